package queue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"testing/synctest"

	"posagent/clock"
	"posagent/gateway"
	"posagent/queue"
)

// fakeAwards answers InviteAward by mobile number.
type fakeAwards struct {
	mu   sync.Mutex
	reqs []gateway.AwardRequest
}

func (f *fakeAwards) InviteAward(_ context.Context, req gateway.AwardRequest) (*gateway.AwardResponse, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	m := gateway.MethodInviteAward
	switch req.Mobile {
	case "13800000001":
		return &gateway.AwardResponse{Common: gateway.Common{Code: "10000", Msg: "Success"},
			BizResultCode: gateway.AwardNewSuccess, BizResultDesc: "awarded"}, nil
	case "13800000002":
		return nil, &gateway.Error{Method: m, Kind: gateway.Failure, Code: "40004", Msg: "Business Failed", SubCode: "INVALID_PARAMETER"}
	case "13800000003":
		return nil, &gateway.Error{Method: m, Kind: gateway.Failure, Code: "40004", Msg: "Business Failed", SubCode: "SYSTEM_ERROR"}
	case "13800000004":
		return nil, &gateway.Error{Method: m, Kind: gateway.Unknown, Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	case "13800000005":
		return nil, &gateway.Error{Method: m, Kind: gateway.Unknown, Code: "20000", Msg: "Service Currently Unavailable"}
	case "13800000006":
		return nil, &gateway.Error{Method: m, Kind: gateway.Rejected, Code: "40006", Msg: "Insufficient Permissions"}
	}
	return nil, fmt.Errorf("unexpected mobile %s", req.Mobile)
}

func TestAwardHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		q, _ := MustOpenQueue(t, MustOpenDB(t), queue.Options{Clock: clk, Rand: half})
		gw := &fakeAwards{}
		q.Handle(queue.KindAwardReceive, queue.NewAwardHandler(gw))
		enq := func(key, mobile, outBizNo string) uint64 {
			return mustEnqueue(t, q, queue.KindAwardReceive, key,
				gateway.AwardRequest{Mobile: mobile, OutBizNo: outBizNo}).ID
		}
		ok := enq("AW1", "13800000001", "")
		invalid := enq("AW2", "13800000002", "AW2")
		sysErr := enq("AW3", "13800000003", "")
		code20000 := enq("AW5", "13800000005", "")
		rejected := enq("AW6", "13800000006", "")
		mismatch := enq("AW7", "13800000001", "OTHER")
		startRun(t, q)
		synctest.Wait()

		j := mustGet(t, q, ok)
		if j.State != queue.StateDone {
			t.Fatalf("success: %+v", j)
		}
		var res gateway.AwardResponse
		if err := json.Unmarshal(j.Result, &res); err != nil || res.BizResultCode != gateway.AwardNewSuccess || res.Code != "10000" {
			t.Fatalf("result %s: %v", j.Result, err)
		}
		for id, want := range map[uint64]string{invalid: queue.StateFailed, rejected: queue.StateFailed, mismatch: queue.StateFailed,
			sysErr: queue.StatePending, code20000: queue.StatePending} {
			if j := mustGet(t, q, id); j.State != want || j.Attempts != 1 {
				t.Fatalf("job %s: %+v, want %s after 1 attempt", j.Key, j, want)
			}
		}
		if !q.Online() {
			t.Fatal("a gateway answer put the gateway offline")
		}
		gw.mu.Lock()
		for _, r := range gw.reqs {
			if r.OutBizNo == "" || r.OutBizNo == "OTHER" {
				t.Fatalf("sent out_biz_no %q", r.OutBizNo)
			}
		}
		if len(gw.reqs) != 5 {
			t.Fatalf("%d calls, want 5 (the mismatch is never sent)", len(gw.reqs))
		}
		gw.mu.Unlock()

		// An unreachable gateway: not counted, the gateway remote is offline.
		down := enq("AW4", "13800000004", "")
		synctest.Wait()
		if j := mustGet(t, q, down); j.State != queue.StatePending || j.Attempts != 0 || q.Online() {
			t.Fatalf("unreachable: %+v, online %v", j, q.Online())
		}
	})
}
