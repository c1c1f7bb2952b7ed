package queue_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"posagent/probe"
	"posagent/queue"
)

func TestCouponReportHandler(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{} // key → body
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[key] = r.Method + " " + r.Header.Get("Content-Type") + " " + string(body)
		mu.Unlock()
		switch key {
		case "ok":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"applied":true}`))
		case "bad":
			http.Error(w, "unknown coupon", http.StatusUnprocessableEntity)
		case "slow-down":
			w.Header().Set("Retry-After", "120")
			http.Error(w, "too many", http.StatusTooManyRequests)
		case "timeout":
			http.Error(w, "timeout", http.StatusRequestTimeout)
		default:
			http.Error(w, "oops", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()

	q, lb := MustOpenQueue(t, MustOpenDB(t), queue.Options{BaseBackoff: time.Minute, MaxBackoff: time.Hour})
	q.Handle(queue.KindCouponReport, queue.NewCouponReportHandler(srv.URL+"/redemptions", srv.Client()))
	jobs := map[string]queue.Job{}
	for _, k := range []string{"ok", "bad", "slow-down", "timeout", "boom"} {
		jobs[k] = mustEnqueue(t, q, queue.KindCouponReport, k, map[string]string{"coupon_id": "C-" + k})
	}
	start := time.Now()
	startRun(t, q)
	waitFor(t, "every report tried once", 10*time.Second, func() bool {
		for _, j := range jobs {
			if j = mustGet(t, q, j.ID); j.Attempts == 0 {
				return false
			}
		}
		return true
	})

	mu.Lock()
	if b := got["ok"]; b != `POST application/json {"coupon_id":"C-ok"}` {
		t.Fatalf("request = %q", b)
	}
	mu.Unlock()
	ok := mustGet(t, q, jobs["ok"].ID)
	var res queue.ReportResult
	if err := json.Unmarshal(ok.Result, &res); err != nil || ok.State != queue.StateDone || res.Status != 200 || string(res.Response) != `{"applied":true}` {
		t.Fatalf("ok: %+v (%v)", ok, err)
	}
	if j := mustGet(t, q, jobs["bad"].ID); j.State != queue.StateFailed || !strings.Contains(j.LastError, "422") || !strings.Contains(j.LastError, "unknown coupon") {
		t.Fatalf("bad: %+v", j)
	}
	if j := mustGet(t, q, jobs["slow-down"].ID); j.State != queue.StatePending || j.NextRun.Sub(start) < 120*time.Second {
		t.Fatalf("slow-down: %+v (Retry-After 120 ignored?)", j)
	}
	for _, k := range []string{"timeout", "boom"} {
		if j := mustGet(t, q, jobs[k].ID); j.State != queue.StatePending || j.Attempts != 1 || j.NextRun.Sub(start) < 30*time.Second {
			t.Fatalf("%s: %+v", k, j)
		}
	}
	if !q.Online() {
		t.Fatal("an HTTP error answer put the report remote offline")
	}
	// Lines are logged right after the commit that Get already sees.
	waitFor(t, "3 job_retry lines", 5*time.Second, func() bool { return len(lb.Events("job_retry")) == 3 })
}

func TestCouponReportUnreachableGoesOffline(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now

	var checks atomic.Int32
	gwProbe, err := probe.New(probe.Options{Check: func(context.Context) error { checks.Add(1); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	// The gateway's probe: not for reports.
	q, lb := MustOpenQueue(t, MustOpenDB(t), queue.Options{ProbeInterval: 50 * time.Millisecond, Gateway: gwProbe})
	q.Handle(queue.KindCouponReport, queue.NewCouponReportHandler(url, nil))
	q.Handle(queue.KindTradeCancel, func(context.Context, queue.Job) (any, error) { return nil, nil })
	j := mustEnqueue(t, q, queue.KindCouponReport, "R1", nil)
	startRun(t, q)
	waitFor(t, "report remote offline", 5*time.Second, func() bool { return !q.Online() })
	time.Sleep(200 * time.Millisecond) // a few probe intervals
	if j = mustGet(t, q, j.ID); j.State != queue.StatePending || j.Attempts != 0 || !strings.Contains(j.LastError, "unreachable") {
		t.Fatalf("job: %+v", j)
	}
	off := lb.Events("queue_offline")
	if len(off) != 1 || off[0]["remote"] != queue.RemoteReport || off[0]["kind"] != queue.KindCouponReport || off[0]["key"] != "R1" {
		t.Fatalf("queue_offline = %v", off)
	}
	if checks.Load() != 0 || !gwProbe.Online() {
		t.Fatal("the gateway's probe was used for the report remote")
	}
}
