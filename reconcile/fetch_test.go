package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"posagent/gateway"
	"posagent/reconcile"
)

func TestFetch(t *testing.T) {
	bill := readFile(t, sampleZip)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bill.zip":
			w.Write(bill)
		case "/chunked":
			w.(http.Flusher).Flush() // no Content-Length: the cap applies while reading
			w.Write(bill)
		case "/cut":
			w.Header().Set("Content-Length", "100000")
			w.Write(bill[:100])
			if hj, ok := w.(http.Hijacker); ok {
				w.(http.Flusher).Flush()
				conn, _, _ := hj.Hijack()
				conn.Close()
			}
		case "/hang":
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	got, err := reconcile.Fetch(ctx, srv.Client(), srv.URL+"/bill.zip", 0)
	if err != nil || !bytes.Equal(got, bill) {
		t.Fatalf("fetch: %d bytes, %v", len(got), err)
	}
	if got, err := reconcile.Fetch(ctx, nil, srv.URL+"/chunked", int64(len(bill))); err != nil || !bytes.Equal(got, bill) {
		t.Fatalf("fetch exactly the cap: %d bytes, %v", len(got), err)
	}

	for _, tc := range []struct {
		name        string
		url         string
		max         int64
		unreachable bool
		is          error
	}{
		{"not found", srv.URL + "/gone", 0, false, reconcile.ErrDownload},
		{"too large (announced)", srv.URL + "/bill.zip", 100, false, reconcile.ErrBillTooLarge},
		{"too large (streamed)", srv.URL + "/chunked", int64(len(bill)) - 1, false, reconcile.ErrBillTooLarge},
		{"cut mid-body", srv.URL + "/cut", 0, true, nil},
		{"refused", "http://" + closedAddr(t) + "/bill.zip", 0, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reconcile.Fetch(ctx, nil, tc.url, tc.max)
			if gateway.KindOf(err) != gateway.Unknown || gateway.IsUnreachable(err) != tc.unreachable {
				t.Fatalf("err = %v: kind %v, unreachable %v, want unreachable %v", err, gateway.KindOf(err), gateway.IsUnreachable(err), tc.unreachable)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
		})
	}

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := reconcile.Fetch(ctx, nil, srv.URL+"/hang", 0)
		if !gateway.IsUnreachable(err) {
			t.Fatalf("err = %v, want unreachable", err)
		}
	})
	t.Run("bad url", func(t *testing.T) {
		_, err := reconcile.Fetch(ctx, nil, "http://[::1", 0)
		if gateway.KindOf(err) != gateway.Invalid || !strings.Contains(err.Error(), reconcile.FetchMethod) {
			t.Fatalf("err = %v", err)
		}
	})
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
