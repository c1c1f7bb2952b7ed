package reconcile_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"posagent/gateway"
	"posagent/reconcile"
)

func tradeRow(line int, out string, amount gateway.Amount) reconcile.Row {
	return reconcile.Row{Line: line, TradeNo: "2026" + out, OutTradeNo: out, Kind: reconcile.KindTrade, Amount: amount, Received: amount}
}

func refundRow(line int, out, reqNo string, amount gateway.Amount) reconcile.Row {
	return reconcile.Row{Line: line, TradeNo: "2026" + out, OutTradeNo: out, Kind: reconcile.KindRefund, Amount: -amount, Received: -amount, OutRequestNo: reqNo}
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name    string
		bill    []reconcile.Row
		local   []reconcile.Trade
		refunds []reconcile.Refund
		check   func(t *testing.T, r reconcile.Result)
	}{
		{
			name:    "all match",
			bill:    []reconcile.Row{tradeRow(6, "T01_a", 2500), tradeRow(7, "T01_b", 1250), refundRow(8, "T01_a", "R1", 500)},
			local:   []reconcile.Trade{{CheckoutID: "co_1", OutTradeNo: "T01_a", Amount: 2500}, {CheckoutID: "co_2", OutTradeNo: "T01_b", Amount: 1250}},
			refunds: []reconcile.Refund{{RefundID: "rf_1", CheckoutID: "co_1", OutTradeNo: "T01_a", OutRequestNo: "R1", Amount: 500}},
			check: func(t *testing.T, r reconcile.Result) {
				if r.State != reconcile.StateMatched || r.Matched != (reconcile.Total{Count: 2, Amount: 3750}) ||
					r.Refunds.Matched != (reconcile.Total{Count: 1, Amount: 500}) || r.Mismatched() {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:  "empty day",
			check: func(t *testing.T, r reconcile.Result) { wantState(t, r, reconcile.StateMatched) },
		},
		{
			name:  "missing locally",
			bill:  []reconcile.Row{tradeRow(6, "T01_a", 2500), tradeRow(7, "T01_x", 100)},
			local: []reconcile.Trade{{CheckoutID: "co_1", OutTradeNo: "T01_a", Amount: 2500}},
			check: func(t *testing.T, r reconcile.Result) {
				wantState(t, r, reconcile.StateMismatched)
				if len(r.MissingLocally) != 1 || r.MissingLocally[0].OutTradeNo != "T01_x" || r.Matched.Count != 1 {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:  "missing in bill",
			bill:  []reconcile.Row{tradeRow(6, "T01_a", 2500)},
			local: []reconcile.Trade{{CheckoutID: "co_1", OutTradeNo: "T01_a", Amount: 2500}, {CheckoutID: "co_2", OutTradeNo: "T01_b", Amount: 1}},
			check: func(t *testing.T, r reconcile.Result) {
				wantState(t, r, reconcile.StateMismatched)
				if !reflect.DeepEqual(r.MissingInBill, []string{"co_2"}) {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:  "amount off by a fen",
			bill:  []reconcile.Row{tradeRow(6, "T01_a", 2501)},
			local: []reconcile.Trade{{CheckoutID: "co_1", OutTradeNo: "T01_a", Amount: 2500}},
			check: func(t *testing.T, r reconcile.Result) {
				wantState(t, r, reconcile.StateMismatched)
				want := []reconcile.AmountMismatch{{CheckoutID: "co_1", OutTradeNo: "T01_a", Local: 2500, Bill: 2501}}
				if !reflect.DeepEqual(r.AmountMismatch, want) || r.Matched.Count != 0 {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:  "a trade twice in the bill",
			bill:  []reconcile.Row{tradeRow(6, "T01_a", 2500), tradeRow(9, "T01_a", 2500)},
			local: []reconcile.Trade{{CheckoutID: "co_1", OutTradeNo: "T01_a", Amount: 2500}},
			check: func(t *testing.T, r reconcile.Result) {
				wantState(t, r, reconcile.StateMismatched)
				if len(r.MissingLocally) != 1 || r.MissingLocally[0].Line != 9 || r.Matched.Count != 1 {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:    "refund missing in bill, refund missing locally, refund amount",
			bill:    []reconcile.Row{refundRow(6, "T01_a", "R2", 300), refundRow(7, "T01_a", "R3", 200)},
			refunds: []reconcile.Refund{{RefundID: "rf_1", CheckoutID: "co_1", OutTradeNo: "T01_a", OutRequestNo: "R1", Amount: 500}, {RefundID: "rf_3", CheckoutID: "co_1", OutTradeNo: "T01_a", OutRequestNo: "R3", Amount: 100}},
			check: func(t *testing.T, r reconcile.Result) {
				wantState(t, r, reconcile.StateMismatched)
				want := []reconcile.RefundMismatch{
					{Reason: reconcile.RefundMissingInBill, RefundID: "rf_1", CheckoutID: "co_1", OutTradeNo: "T01_a", OutRequestNo: "R1", Local: 500},
					{Reason: reconcile.RefundAmount, RefundID: "rf_3", CheckoutID: "co_1", OutTradeNo: "T01_a", OutRequestNo: "R3", Local: 100, Bill: 200, Line: 7},
					{Reason: reconcile.RefundMissingLocal, OutTradeNo: "T01_a", OutRequestNo: "R2", Bill: 300, Line: 6},
				}
				if !reflect.DeepEqual(r.Refunds.Mismatched, want) {
					t.Fatalf("got  %+v\nwant %+v", r.Refunds.Mismatched, want)
				}
			},
		},
		{
			name:  "a cancel's reversal is expected",
			bill:  []reconcile.Row{tradeRow(6, "T01_c", 800), refundRow(7, "T01_c", "T01_c", 800)},
			local: []reconcile.Trade{{CheckoutID: "co_9", OutTradeNo: "T01_c", Amount: 800, Cancelled: true}},
			check: func(t *testing.T, r reconcile.Result) {
				wantState(t, r, reconcile.StateMatched)
				if r.Refunds.Matched != (reconcile.Total{Count: 1, Amount: 800}) {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:  "a refund of a trade not cancelled is not a reversal",
			bill:  []reconcile.Row{tradeRow(6, "T01_c", 800), refundRow(7, "T01_c", "X", 800)},
			local: []reconcile.Trade{{CheckoutID: "co_9", OutTradeNo: "T01_c", Amount: 800}},
			check: func(t *testing.T, r reconcile.Result) {
				wantState(t, r, reconcile.StateMismatched)
				if len(r.Refunds.Mismatched) != 1 || r.Refunds.Mismatched[0].Reason != reconcile.RefundMissingLocal {
					t.Fatalf("%+v", r)
				}
			},
		},
		{
			name:  "a partial reversal of a cancelled trade is a mismatch",
			bill:  []reconcile.Row{tradeRow(6, "T01_c", 800), refundRow(7, "T01_c", "", 700)},
			local: []reconcile.Trade{{CheckoutID: "co_9", OutTradeNo: "T01_c", Amount: 800, Cancelled: true}},
			check: func(t *testing.T, r reconcile.Result) { wantState(t, r, reconcile.StateMismatched) },
		},
		{
			name:    "one refund split over two rows",
			bill:    []reconcile.Row{refundRow(6, "T01_a", "R1", 300), refundRow(7, "T01_a", "R1", 200)},
			refunds: []reconcile.Refund{{RefundID: "rf_1", OutTradeNo: "T01_a", OutRequestNo: "R1", Amount: 500}},
			check:   func(t *testing.T, r reconcile.Result) { wantState(t, r, reconcile.StateMatched) },
		},
		{
			name: "other business types are ignored",
			bill: []reconcile.Row{{Line: 6, OutTradeNo: "T01_z", Kind: "收费", Amount: -10}},
			check: func(t *testing.T, r reconcile.Result) {
				wantState(t, r, reconcile.StateMatched)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reconcile.Compare("2026-12-03", tc.bill, tc.local, tc.refunds)
			if r.Date != "2026-12-03" {
				t.Fatalf("date %q", r.Date)
			}
			tc.check(t, r)
		})
	}
}

func wantState(t *testing.T, r reconcile.Result, state string) {
	t.Helper()
	if r.State != state {
		t.Fatalf("state %s, want %s: %+v", r.State, state, r)
	}
}

func TestCompareSampleAndJSON(t *testing.T) {
	rows, err := reconcile.ReadZipBytes(readFile(t, sampleZip), reconcile.Options{Prefix: "T01_"})
	if err != nil {
		t.Fatal(err)
	}
	local := []reconcile.Trade{
		{CheckoutID: "co_1", OutTradeNo: "T01_20261203091502117_a1b2c3d4e5", Amount: 2500},
		{CheckoutID: "co_2", OutTradeNo: "T01_20261203101133004_f6g7h8i9j0", Amount: 1250},
		{CheckoutID: "co_3", OutTradeNo: "T01_20261203153045660_p1q2r3s4t5", Amount: 199999},
	}
	refunds := []reconcile.Refund{
		{RefundID: "rf_1", CheckoutID: "co_1", OutTradeNo: local[0].OutTradeNo, OutRequestNo: "T01_R20261203142009881_k1", Amount: 500},
		{RefundID: "rf_2", CheckoutID: "co_3", OutTradeNo: local[2].OutTradeNo, OutRequestNo: "T01_R20261203160210007_k2", Amount: 199999},
	}
	r := reconcile.Compare("2026-12-03", rows, local, refunds)
	if r.State != reconcile.StateMatched || r.Matched != (reconcile.Total{Count: 3, Amount: 203749}) || r.Refunds.Matched.Count != 2 {
		t.Fatalf("%+v", r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"date":"2026-12-03","state":"matched","checked_at":"0001-01-01T00:00:00Z","matched":{"count":3,"amount":"2037.49"},` +
		`"missing_locally":[],"missing_in_bill":[],"amount_mismatch":[],"refunds":{"matched":{"count":2,"amount":"2004.99"},"mismatched":[]}}`
	if string(b) != want {
		t.Fatalf("json\n got %s\nwant %s", b, want)
	}

	// The same day with the first trade's amount altered, the second missing
	// from the journal, and an extra local trade.
	local[0].Amount = 2400
	r = reconcile.Compare("2026-12-03", rows, append(local[:1:1], local[2], reconcile.Trade{CheckoutID: "co_4", OutTradeNo: "T01_4", Amount: 1}), refunds)
	b, _ = json.Marshal(r)
	for _, s := range []string{`"state":"mismatched"`, `"missing_in_bill":["co_4"]`,
		`"amount_mismatch":[{"checkout_id":"co_1","out_trade_no":"T01_20261203091502117_a1b2c3d4e5","local":"24.00","bill":"25.00"}]`,
		`"out_trade_no":"T01_20261203101133004_f6g7h8i9j0","type":"交易"`, `"amount":"12.50"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("json lacks %s:\n%s", s, b)
		}
	}
}

// BenchmarkParseAndCompare100k parses a 100,000-row bill and reconciles
// this terminal's half against a journal that matches it.
func BenchmarkParseAndCompare100k(b *testing.B) {
	data := bigBill(b, 100_000)
	rows, err := reconcile.ReadZipBytes(data, reconcile.Options{Prefix: "T01_"})
	if err != nil {
		b.Fatal(err)
	}
	var local []reconcile.Trade
	var refunds []reconcile.Refund
	for _, r := range rows {
		if r.Kind == reconcile.KindTrade {
			local = append(local, reconcile.Trade{CheckoutID: r.OutTradeNo, OutTradeNo: r.OutTradeNo, Amount: r.Amount})
		} else {
			refunds = append(refunds, reconcile.Refund{OutTradeNo: r.OutTradeNo, OutRequestNo: r.OutRequestNo, Amount: -r.Amount})
		}
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rows, err := reconcile.ReadZipBytes(data, reconcile.Options{Prefix: "T01_"})
		if err != nil {
			b.Fatal(err)
		}
		if r := reconcile.Compare("2026-12-03", rows, local, refunds); r.State != reconcile.StateMatched {
			b.Fatalf("%+v", r.Refunds)
		}
	}
	b.ReportMetric(float64(110_000*b.N)/b.Elapsed().Seconds(), "rows/s")
}
