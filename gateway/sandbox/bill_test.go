package sandbox_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/reconcile"
)

// payAt pays a fresh trade of amount on terminal term; out starts with term.
func (e *env) payAt(term string, amount gateway.Amount) string {
	e.t.Helper()
	out := newNo(term)
	_, err := e.c.TradePay(e.ctx, gateway.TradePayRequest{
		OutTradeNo: out, AuthCode: newCode(), Subject: "矿泉水, 550ml", TotalAmount: amount, TerminalID: term, OperatorID: "op7", StoreID: "S001",
	})
	if err != nil {
		e.t.Fatalf("pay: %v", err)
	}
	return out
}

// bill asks for the bill of day and downloads it; it returns the
// gateway's error when there is no bill.
func (e *env) bill(day string, client *http.Client) ([]byte, error) {
	e.t.Helper()
	r, err := e.c.BillDownloadURLQuery(e.ctx, gateway.BillDownloadURLQueryRequest{BillType: gateway.BillTypeTrade, BillDate: day})
	if err != nil {
		return nil, err
	}
	b, err := reconcile.Fetch(e.ctx, client, r.BillDownloadURL, 0)
	if err != nil {
		e.t.Fatalf("fetch %s: %v", r.BillDownloadURL, err)
	}
	return b, nil
}

func TestBillOfTheDay(t *testing.T) {
	e := mustStart(t)
	today := start.Format(time.DateOnly)
	a := e.payAt("T01", 2500)
	b := e.payAt("T01", 1250)
	other := e.payAt("T02", 800)
	if _, err := e.refund(a, "R1", 500); err != nil {
		t.Fatal(err)
	}
	e.clk.Step(time.Minute)
	if _, err := e.cancel(b); err != nil {
		t.Fatal(err)
	}
	if _, err := e.refund(other, "R9", 800); err != nil {
		t.Fatal(err)
	}

	data, err := e.bill(today, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The zip holds the detail and the summary, GBK-named, GBK inside.
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil || len(zr.File) != 2 {
		t.Fatalf("zip: %v", err)
	}
	dec := simplifiedchinese.GB18030.NewDecoder()
	names := []string{}
	for _, f := range zr.File {
		n, _ := dec.String(f.Name)
		names = append(names, n)
	}
	account := sandbox.DefaultPayPID + "0156"
	if names[0] != account+"_20250301_业务明细.csv" || names[1] != account+"_20250301_业务明细(汇总).csv" || !zr.File[0].NonUTF8 {
		t.Fatalf("names %q", names)
	}
	rc, _ := zr.File[0].Open()
	raw, _ := io.ReadAll(rc)
	text, _ := dec.Bytes(raw)
	for _, s := range []string{"#支付宝业务明细查询\r\n#账号：[" + account + "]\r\n#起始日期：[2025年03月01日 00:00:00]   终止日期：[2025年03月02日 00:00:00]\r\n",
		"#-----------------------------------------业务明细列表结束------------------------------------\r\n",
		"#交易合计：3笔，商家实收共45.50元，商家优惠共0.00元\r\n", "#退款合计：3笔，商家实收退款共-25.50元，商家优惠退款共0.00元\r\n",
		"#导出时间：[2025年03月01日 10:01:00]", `,"矿泉水, 550ml",`, "\t,退款\t,"} {
		if !strings.Contains(string(text), s) {
			t.Errorf("detail lacks %q:\n%s", s, text)
		}
	}

	rows, err := reconcile.ReadZipBytes(data, reconcile.Options{Prefix: "T01"})
	if err != nil {
		t.Fatal(err)
	}
	trades := e.s.Trades()
	local := []reconcile.Trade{
		{CheckoutID: "co_a", OutTradeNo: a, Amount: 2500},
		{CheckoutID: "co_b", OutTradeNo: b, Amount: 1250, Cancelled: true},
	}
	refunds := []reconcile.Refund{{RefundID: "rf_1", CheckoutID: "co_a", OutTradeNo: a, OutRequestNo: "R1", Amount: 500}}
	res := reconcile.Compare(today, rows, local, refunds)
	if res.State != reconcile.StateMatched || res.Matched.Count != 2 || res.Refunds.Matched.Count != 2 {
		t.Fatalf("reconcile: %+v\nrows %+v\ntrades %+v", res, rows, trades)
	}
	for _, r := range rows {
		if r.TerminalID != "T01" || r.OperatorID != "op7" || r.StoreID != "S001" || r.TradeNo == "" || r.FinishedAt == "" {
			t.Fatalf("row %+v", r)
		}
	}

	// Another day: yesterday had nothing, tomorrow has not come.
	for _, day := range []string{"2025-02-28", "2025-03-02"} {
		_, err := e.bill(day, nil)
		want(t, err, gateway.Failure, gateway.SubBillNotExist)
	}
	// Tomorrow, today's bill is still there, and the new day has its own.
	e.clk.Step(24 * time.Hour)
	if _, err := e.bill(today, nil); err != nil {
		t.Fatalf("yesterday's bill: %v", err)
	}
	_, err = e.bill("2025-03-02", nil)
	want(t, err, gateway.Failure, gateway.SubBillNotExist)
	c := e.payAt("T01", 100)
	data, err = e.bill("2025-03-02", nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ = reconcile.ReadZipBytes(data, reconcile.Options{Prefix: "T01"})
	if len(rows) != 1 || rows[0].OutTradeNo != c {
		t.Fatalf("rows %+v", rows)
	}
	// Monthly bills and signcustomer are not kept.
	_, err = e.c.BillDownloadURLQuery(e.ctx, gateway.BillDownloadURLQueryRequest{BillType: gateway.BillTypeTrade, BillDate: "2025-03"})
	want(t, err, gateway.Failure, gateway.SubBillNotExist)
	_, err = e.c.BillDownloadURLQuery(e.ctx, gateway.BillDownloadURLQueryRequest{BillType: gateway.BillTypeSignCustomer, BillDate: today})
	want(t, err, gateway.Failure, gateway.SubBillNotExist)

	resp, err := http.Get(strings.TrimSuffix(e.s.URL(), "/gateway.do") + "/sandbox/bills/2025-02-01")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("bill of a day without trades: %s", resp.Status)
	}
}

func TestBillRowsMakeMismatches(t *testing.T) {
	e := mustStart(t)
	today := start.Format(time.DateOnly)
	a := e.payAt("T01", 2500)
	b := e.payAt("T01", 1250)
	if _, err := e.refund(a, "R1", 500); err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(e.s.URL(), "/gateway.do")
	post := func(body string) (int, string) {
		resp, err := http.Post(base+"/sandbox/bill-rows", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, string(readAll(t, resp.Body))
	}
	for _, bad := range []string{
		`{"rows":[{"action":"alter","out_trade_no":"nope","amount":"1.00"}]}`,
		`{"rows":[{"out_trade_no":"T01_x"}]}`,
		`{"rows":[{"out_trade_no":"T01_x","amount":"1.001"}]}`,
		`{"rows":[{"out_trade_no":"T01_x","amount":"1.00","type":"收费"}]}`,
		`{"rows":[{"out_trade_no":"T01_x","amount":"1.00","date":"2025-3-1"}]}`,
		`{"rows":[{"out_trade_no":"T01_x","amount":"1.00","colour":"red"}]}`,
		`not json`,
	} {
		if status, body := post(bad); status != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s", bad, status, body)
		}
	}
	if n := len(e.s.BillRows()); n != 0 {
		t.Fatalf("refused posts kept %d rows", n)
	}
	status, body := post(`{"rows":[
		{"action":"alter","out_trade_no":"` + a + `","amount":"24.00"},
		{"action":"delete","out_trade_no":"` + b + `"},
		{"out_trade_no":"T01_ghost","amount":"9.99","terminal_id":"T01","finished_at":"2025-03-01 11:00:00"},
		{"action":"alter","type":"退款","out_trade_no":"` + a + `","out_request_no":"R1","amount":"-4.00"}]}`)
	if status != http.StatusOK || !strings.Contains(body, "T01_ghost") {
		t.Fatalf("post: %d %s", status, body)
	}

	data, err := e.bill(today, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := reconcile.ReadZipBytes(data, reconcile.Options{Prefix: "T01"})
	if err != nil {
		t.Fatal(err)
	}
	res := reconcile.Compare(today, rows,
		[]reconcile.Trade{{CheckoutID: "co_a", OutTradeNo: a, Amount: 2500}, {CheckoutID: "co_b", OutTradeNo: b, Amount: 1250}},
		[]reconcile.Refund{{RefundID: "rf_1", OutTradeNo: a, OutRequestNo: "R1", Amount: 500}})
	if res.State != reconcile.StateMismatched ||
		len(res.AmountMismatch) != 1 || res.AmountMismatch[0].Bill != 2400 ||
		len(res.MissingInBill) != 1 || res.MissingInBill[0] != "co_b" ||
		len(res.MissingLocally) != 1 || res.MissingLocally[0].OutTradeNo != "T01_ghost" || res.MissingLocally[0].Amount != 999 ||
		len(res.Refunds.Mismatched) != 1 || res.Refunds.Mismatched[0].Bill != 400 {
		j, _ := json.MarshalIndent(res, "", " ")
		t.Fatalf("reconcile:\n%s", j)
	}

	// DELETE drops the overrides: the bill matches again.
	req, _ := http.NewRequest(http.MethodDelete, base+"/sandbox/bill-rows", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	data, _ = e.bill(today, nil)
	rows, _ = reconcile.ReadZipBytes(data, reconcile.Options{Prefix: "T01"})
	if len(rows) != 3 {
		t.Fatalf("rows after reset: %+v", rows)
	}
}

func TestBillAddedRowOnADayWithoutTrades(t *testing.T) {
	e := mustStart(t)
	if err := e.s.AddBillRows([]sandbox.BillRow{{Date: "2025-02-27", OutTradeNo: "T01_x", Amount: "1.00"}}); err != nil {
		t.Fatal(err)
	}
	data, err := e.bill("2025-02-27", nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := reconcile.ReadZipBytes(data, reconcile.Options{})
	if err != nil || len(rows) != 1 || rows[0].TradeNo == "" || rows[0].FinishedAt != "2025-02-27 12:00:00" {
		t.Fatalf("rows %+v %v", rows, err)
	}
	// The added row keeps its trade number from one download to the next.
	again, _ := e.bill("2025-02-27", nil)
	rows2, _ := reconcile.ReadZipBytes(again, reconcile.Options{})
	if len(rows2) != 1 || rows2[0].TradeNo != rows[0].TradeNo {
		t.Fatalf("rows %+v then %+v", rows, rows2)
	}
}

func TestBillInProcessAndFaults(t *testing.T) {
	s, err := sandbox.New(sandbox.Config{Dir: keyDir})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client() // not started: in process
	e := &env{t: t, s: s, c: c, ctx: context.Background()}
	out := e.payAt("T01", 300)
	today := time.Now().In(gateway.Shanghai).Format(time.DateOnly)
	data, err := e.bill(today, c.HTTPClient)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := reconcile.ReadZipBytes(data, reconcile.Options{})
	if err != nil || len(rows) != 1 || rows[0].OutTradeNo != out {
		t.Fatalf("rows %+v %v", rows, err)
	}
	s.SetFaults(sandbox.Faults{Fail20000: 1, Methods: []string{gateway.MethodBillDownloadURLQuery}})
	_, err = e.bill(today, c.HTTPClient)
	want(t, err, gateway.Unknown, "isp.unknow-error")
}
