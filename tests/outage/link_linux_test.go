//go:build linux

package outage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"testing/synctest"

	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// boundPort reserves a loopback port that nothing listens on: connect(2)
// to it is refused, and no other process can take it meanwhile.
func boundPort(t *testing.T) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

// checkUnreachable asserts what the queue and the engine must make of err:
// offline, and (errno other than 0) caused by errno.
func checkUnreachable(t *testing.T, what string, err error, errno syscall.Errno) {
	t.Helper()
	if err == nil || !queue.IsOffline(err) || errno != 0 && !errors.Is(err, errno) {
		t.Errorf("%s: %v; want an offline error caused by %v", what, err, errno)
	}
	var ge *gateway.Error
	if errors.As(err, &ge) && (!gateway.IsUnreachable(err) || gateway.KindOf(err) != gateway.Unknown) {
		t.Errorf("%s: kind %s, unreachable %v; want unknown and unreachable", what, gateway.KindOf(err), gateway.IsUnreachable(err))
	}
}

// TestRefusedDialMatchesKernel: a down link fails a gateway call and a
// coupon report exactly as a closed loopback port does (same error text,
// ECONNREFUSED, offline for the queue), and a reset link as a peer's RST
// does (ECONNRESET, unreachable), so the outage suite's network is the
// real one as far as posagent can tell.
func TestRefusedDialMatchesKernel(t *testing.T) {
	ctx := context.Background()
	sb, err := sandbox.New(sandbox.Config{Dir: keysDir})
	if err != nil {
		t.Fatal(err)
	}
	award := gateway.AwardRequest{Mobile: newUserA, OutBizNo: "K1"}
	report := queue.Job{ID: 1, Kind: queue.KindCouponReport, Key: "CP-1:T01_1", Payload: json.RawMessage(`{"coupon_id":"CP-1"}`)}

	// Refused: the kernel, and a link that is down, on the same address.
	port := boundPort(t)
	kernel := &http.Transport{DialContext: (&net.Dialer{}).DialContext}
	defer kernel.CloseIdleConnections()
	gwKernel := sb.Client()
	gwKernel.URL = fmt.Sprintf("http://127.0.0.1:%d/gateway.do", port)
	gwKernel.HTTPClient = &http.Client{Transport: kernel}
	_, kernelErr := gwKernel.InviteAward(ctx, award)

	l := newLink("gateway", port, refuse)
	l.Down()
	gwLink := sb.Client()
	gwLink.URL = l.URL("/gateway.do")
	gwLink.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: l.DialContext}}
	_, linkErr := gwLink.InviteAward(ctx, award)

	checkUnreachable(t, "gateway call, kernel", kernelErr, syscall.ECONNREFUSED)
	checkUnreachable(t, "gateway call, link", linkErr, syscall.ECONNREFUSED)
	if kernelErr != nil && linkErr != nil && kernelErr.Error() != linkErr.Error() {
		t.Errorf("refused dial:\nkernel %v\nlink   %v", kernelErr, linkErr)
	}
	_, kernelErr = queue.NewCouponReportHandler(fmt.Sprintf("http://127.0.0.1:%d/r", port), &http.Client{Transport: kernel})(ctx, report)
	_, linkErr = queue.NewCouponReportHandler(l.URL("/r"), &http.Client{Transport: &http.Transport{DialContext: l.DialContext}})(ctx, report)
	// The report handler keeps only the text of the cause (%v).
	checkUnreachable(t, "coupon report, kernel", kernelErr, 0)
	checkUnreachable(t, "coupon report, link", linkErr, 0)
	if kernelErr != nil && linkErr != nil && kernelErr.Error() != linkErr.Error() {
		t.Errorf("refused dial:\nkernel %v\nlink   %v", kernelErr, linkErr)
	}

	// Reset mid-call: a real server that reads the request and aborts the
	// connection (RST), and a link cut while the call is held.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rst := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	})}
	go rst.Serve(ln)
	defer rst.Close()
	gwKernel.URL = "http://" + ln.Addr().String() + "/gateway.do"
	_, kernelErr = gwKernel.InviteAward(ctx, award)
	checkUnreachable(t, "gateway call reset, kernel", kernelErr, syscall.ECONNRESET)

	synctest.Test(t, func(t *testing.T) {
		sb, err := sandbox.New(sandbox.Config{Dir: keysDir})
		if err != nil {
			t.Fatal(err)
		}
		l := newLink("gateway", port, refuse)
		front := &gatewayFront{sandbox: sb.Handler(), link: l, handled: map[string]int{}}
		front.holds.add(hold{method: gateway.MethodInviteAward, applyFirst: true})
		srv := &http.Server{Handler: front}
		go srv.Serve(l)
		tr := &http.Transport{DialContext: l.DialContext}
		gw := sb.Client()
		gw.URL = l.URL("/gateway.do")
		gw.HTTPClient = &http.Client{Transport: tr}
		done := make(chan error, 1)
		go func() {
			_, err := gw.InviteAward(ctx, award)
			done <- err
		}()
		synctest.Wait() // the call is held by the gateway
		l.Down()
		checkUnreachable(t, "gateway call reset, link", <-done, syscall.ECONNRESET)
		srv.Close()
		tr.CloseIdleConnections()
	})
}
