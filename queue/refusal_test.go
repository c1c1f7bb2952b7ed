package queue_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"posagent/clock"
	"posagent/gateway"
	"posagent/queue"
)

// flakyGateway is a gateway that is unreachable while down, and otherwise
// refuses every award with 40004 INVALID_PARAMETER and confirms every
// cancel.
type flakyGateway struct {
	down    atomic.Bool
	awards  atomic.Int32
	cancels atomic.Int32
}

func (g *flakyGateway) unreachable(m string) error {
	return &gateway.Error{Method: m, Kind: gateway.Unknown, Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
}

func (g *flakyGateway) InviteAward(_ context.Context, _ gateway.AwardRequest) (*gateway.AwardResponse, error) {
	g.awards.Add(1)
	if g.down.Load() {
		return nil, g.unreachable(gateway.MethodInviteAward)
	}
	return nil, &gateway.Error{Method: gateway.MethodInviteAward, Kind: gateway.Failure, Code: "40004", Msg: "Business Failed", SubCode: "INVALID_PARAMETER"}
}

func (g *flakyGateway) cancel(_ context.Context, j queue.Job) (any, error) {
	g.cancels.Add(1)
	if g.down.Load() {
		return nil, g.unreachable(gateway.MethodTradeCancel)
	}
	return map[string]string{"action": "close"}, nil
}

// TestRefusedJobAfterOutageFailsAlone is the regression test of issue 10
// item 1: an award queued during a gateway outage, which the gateway
// refuses for good (40004 INVALID_PARAMETER) once it is back, used to be
// taken as the probe of the offline gateway, its refusal read as "still
// offline", so the trade_cancel behind it never ran. The award must fail
// alone and the cancel run as soon as the gateway is back.
// It runs with a gateway probe (as the daemon does) and without one.
func TestRefusedJobAfterOutageFailsAlone(t *testing.T) {
	for _, withProbe := range []bool{true, false} {
		name := "no_probe"
		if withProbe {
			name = "probe"
		}
		t.Run(name, func(t *testing.T) { testRefusedJobAfterOutage(t, withProbe) })
	}
}

func testRefusedJobAfterOutage(t *testing.T, withProbe bool) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		const interval = 5 * time.Second
		gw := &flakyGateway{}
		gw.down.Store(true)
		opts := queue.Options{Clock: clk, Rand: half, ProbeInterval: interval}
		var checks atomic.Int32
		if withProbe {
			opts.Gateway = startProbe(t, clk, interval, &gw.down, &checks)
		}
		q, lb := MustOpenQueue(t, MustOpenDB(t), opts)
		q.Handle(queue.KindAwardReceive, queue.NewAwardHandler(gw))
		q.Handle(queue.KindTradeCancel, gw.cancel)
		startRun(t, q)

		award := mustEnqueue(t, q, queue.KindAwardReceive, "AW1", gateway.AwardRequest{Mobile: "13800000002"})
		synctest.Wait()
		advance(clk, time.Second)
		cancel := mustEnqueue(t, q, queue.KindTradeCancel, "T1", nil)
		synctest.Wait()
		if j := mustGet(t, q, cancel.ID); j.State != queue.StatePending || j.Attempts != 0 {
			t.Fatalf("cancel during the outage: %+v", j)
		}

		// The gateway comes back: at the next check (without a probe: within
		// one interval) the award is refused for good and the cancel
		// confirmed.
		gw.down.Store(false)
		if withProbe {
			advance(clk, interval-time.Second) // the check 5 s after the first
		} else {
			advance(clk, interval)
		}
		if j := mustGet(t, q, cancel.ID); j.State != queue.StateDone || j.Attempts != 1 {
			t.Fatalf("cancel %s after the gateway came back: %+v", clk.Now().Sub(t0), j)
		}
		if j := mustGet(t, q, award.ID); j.State != queue.StateFailed || j.Attempts != 1 {
			t.Fatalf("refused award: %+v", j)
		}
		// And it stays so: nothing retries the refused award.
		awards := gw.awards.Load()
		for range 10 {
			advance(clk, interval)
		}
		if n := gw.awards.Load(); n != awards {
			t.Fatalf("refused award sent %d more times", n-awards)
		}
		if f := lb.Events("job_failed"); len(f) != 1 || f[0]["key"] != "AW1" {
			t.Fatalf("job_failed = %v", f)
		}
		if !q.Online() {
			t.Fatal("a refusal left the gateway offline")
		}
	})
}
