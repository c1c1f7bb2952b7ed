package sandbox_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"posagent/gateway"
)

func TestTradesEndpoint(t *testing.T) {
	e := mustStart(t)
	code, sence, out := newCode(), newNo("S"), newNo("T")
	if _, err := e.decode(code, sence); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pay(out, code, 2500, sence); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	if _, err := e.cancel(out); err != nil {
		t.Fatal(err)
	}
	closedNo := newNo("T")
	if _, err := e.cancel(closedNo); err != nil {
		t.Fatal(err)
	}

	resp, err := http.Get(strings.TrimSuffix(e.s.URL(), "/gateway.do") + "/sandbox/trades")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var got []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d lines: %v", len(got), got)
	}
	first := got[0]
	wantFields := map[string]any{
		"out_trade_no":  out,
		"status":        gateway.TradeClosed,
		"total_amount":  "25.00",
		"refunded":      true,
		"sence_no":      sence,
		"buyer_user_id": "2088" + code[6:],
	}
	for k, v := range wantFields {
		if first[k] != v {
			t.Errorf("%s = %#v, want %#v", k, first[k], v)
		}
	}
	// The eight of SPEC §3, and refunded_amount and refunds of §11 (a cancel
	// refunds the whole amount; it is not a trade.refund refund).
	if len(first) != 10 || first["refunded_amount"] != "25.00" || fmt.Sprint(first["refunds"]) != "[]" {
		t.Errorf("fields %v, want exactly the eight of SPEC §3 and the two of §11", first)
	}
	if tn, _ := first["trade_no"].(string); len(tn) != 28 {
		t.Errorf("trade_no %v", first["trade_no"])
	}
	created, err := time.Parse(time.RFC3339, first["created_at"].(string))
	if err != nil || !created.Equal(start) {
		t.Errorf("created_at %v (%v), want %v", first["created_at"], err, start)
	}
	if got[1]["out_trade_no"] != closedNo || got[1]["status"] != gateway.TradeClosed || got[1]["trade_no"] != "" || got[1]["refunded"] != false {
		t.Errorf("closed number: %v", got[1])
	}
	if len(e.s.Trades()) != 2 {
		t.Fatal("Trades() differs from the endpoint")
	}
}

func TestLedgerIsSafeForConcurrentCalls(t *testing.T) {
	e := mustStart(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for range n {
		wg.Go(func() {
			out := newNo("T")
			if _, err := e.pay(out, newCode(), 100, ""); err != nil {
				errs <- err
				return
			}
			// The same out_trade_no from two goroutines at once: one trade.
			if _, err := e.pay(out+"x", testCode(2, 0), 100, ""); gateway.KindOf(err) != gateway.InProgress {
				errs <- err
			}
		})
		wg.Go(func() { e.s.Trades() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(e.s.Trades()); got != 2*n {
		t.Fatalf("%d trades, want %d", got, 2*n)
	}
}
