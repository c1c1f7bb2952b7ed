package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"posagent/gateway"
)

func refundReq() gateway.TradeRefundRequest {
	return gateway.TradeRefundRequest{OutTradeNo: "T01_1", RefundAmount: 500, OutRequestNo: "R01_1", RefundReason: "退货"}
}

func TestRefundValidation(t *testing.T) {
	c, calls := fakeGateway(t, func(*http.Request) (int, string, bool) { return 200, `{"code":"10000","msg":"Success"}`, true })
	ctx := context.Background()
	refund := func(mut func(*gateway.TradeRefundRequest)) func() error {
		return func() error {
			r := refundReq()
			mut(&r)
			_, err := c.TradeRefund(ctx, r)
			return err
		}
	}
	query := func(mut func(*gateway.TradeRefundQueryRequest)) func() error {
		return func() error {
			r := gateway.TradeRefundQueryRequest{OutTradeNo: "T01_1", OutRequestNo: "R01_1"}
			mut(&r)
			_, err := c.TradeRefundQuery(ctx, r)
			return err
		}
	}
	bill := func(typ, date string) func() error {
		return func() error {
			_, err := c.BillDownloadURLQuery(ctx, gateway.BillDownloadURLQueryRequest{BillType: typ, BillDate: date})
			return err
		}
	}
	for name, call := range map[string]func() error{
		"refund: neither number":           refund(func(r *gateway.TradeRefundRequest) { r.OutTradeNo = "" }),
		"refund: out_trade_no too long":    refund(func(r *gateway.TradeRefundRequest) { r.OutTradeNo = strings.Repeat("a", 65) }),
		"refund: zero amount":              refund(func(r *gateway.TradeRefundRequest) { r.RefundAmount = 0 }),
		"refund: negative amount":          refund(func(r *gateway.TradeRefundRequest) { r.RefundAmount = -1 }),
		"refund: amount over max":          refund(func(r *gateway.TradeRefundRequest) { r.RefundAmount = gateway.MaxAmount + 1 }),
		"refund: no out_request_no":        refund(func(r *gateway.TradeRefundRequest) { r.OutRequestNo = "" }),
		"refund: out_request_no too long":  refund(func(r *gateway.TradeRefundRequest) { r.OutRequestNo = strings.Repeat("r", 65) }),
		"refund: out_request_no charset":   refund(func(r *gateway.TradeRefundRequest) { r.OutRequestNo = "R-1" }),
		"refund: out_request_no non-ascii": refund(func(r *gateway.TradeRefundRequest) { r.OutRequestNo = "退款1" }),
		"refund: reason too long":          refund(func(r *gateway.TradeRefundRequest) { r.RefundReason = strings.Repeat("退", 257) }),
		"refund: operator too long":        refund(func(r *gateway.TradeRefundRequest) { r.OperatorID = strings.Repeat("o", 29) }),
		"refund: terminal too long":        refund(func(r *gateway.TradeRefundRequest) { r.TerminalID = strings.Repeat("t", 33) }),
		"refund query: neither number":     query(func(r *gateway.TradeRefundQueryRequest) { r.OutTradeNo = "" }),
		"refund query: no out_request_no":  query(func(r *gateway.TradeRefundQueryRequest) { r.OutRequestNo = "" }),
		"refund query: bad out_request_no": query(func(r *gateway.TradeRefundQueryRequest) { r.OutRequestNo = "a b" }),
		"refund query: empty option":       query(func(r *gateway.TradeRefundQueryRequest) { r.QueryOptions = []string{""} }),
		"bill: no type":                    bill("", "2026-12-03"),
		"bill: unknown type":               bill("fund", "2026-12-03"),
		"bill: no date":                    bill("trade", ""),
		"bill: bad date":                   bill("trade", "2026-13-01"),
		"bill: date with time":             bill("trade", "2026-12-03 00:00:00"),
		"bill: compact date":               bill("trade", "20261203"),
	} {
		err := call()
		var ve *gateway.ValidationError
		if gateway.KindOf(err) != gateway.Invalid || !errors.As(err, &ve) {
			t.Errorf("%s: err = %v, want a validation error", name, err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d invalid requests reached the gateway", n)
	}
	// The valid forms go out.
	for name, call := range map[string]func() error{
		"refund by trade_no":  refund(func(r *gateway.TradeRefundRequest) { r.OutTradeNo, r.TradeNo = "", "2026120422001000000000000001" }),
		"refund, 64 chars":    refund(func(r *gateway.TradeRefundRequest) { r.OutRequestNo = strings.Repeat("R", 64) }),
		"refund query":        query(func(r *gateway.TradeRefundQueryRequest) { r.QueryOptions = []string{gateway.QueryOptionGmtRefundPay} }),
		"bill of a day":       bill("trade", "2026-12-03"),
		"bill of a month":     bill("signcustomer", "2026-11"),
		"refund, max amount":  refund(func(r *gateway.TradeRefundRequest) { r.RefundAmount = gateway.MaxAmount }),
		"refund, 0.01":        refund(func(r *gateway.TradeRefundRequest) { r.RefundAmount = 1 }),
		"refund, long reason": refund(func(r *gateway.TradeRefundRequest) { r.RefundReason = strings.Repeat("退", 256) }),
	} {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRefundSendsTheDocumentedBizContent(t *testing.T) {
	var got map[string]any
	c, _ := fakeGateway(t, func(r *http.Request) (int, string, bool) {
		if err := json.Unmarshal([]byte(r.PostForm.Get("biz_content")), &got); err != nil {
			t.Errorf("biz_content: %v", err)
		}
		if m := r.Form.Get("method"); m != gateway.MethodTradeRefund {
			t.Errorf("method = %q", m)
		}
		return 200, `{"code":"10000","msg":"Success","fund_change":"Y","refund_fee":"5.00"}`, true
	})
	if _, err := c.TradeRefund(context.Background(), refundReq()); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"out_trade_no": "T01_1", "refund_amount": "5.00", "out_request_no": "R01_1", "refund_reason": "退货"}
	if len(got) != len(want) {
		t.Fatalf("biz_content = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("biz_content[%s] = %v, want %v", k, got[k], v)
		}
	}
}

func TestRefundReplyDecoding(t *testing.T) {
	for _, tc := range []struct {
		name     string
		raw      string
		want     gateway.Kind
		subCode  string
		check    func(*gateway.TradeRefundResponse) bool
		checkMsg string
	}{
		{"refunded", `{"code":"10000","msg":"Success","trade_no":"2026120422001000000000000001","out_trade_no":"T01_1","buyer_logon_id":"138******12","fund_change":"Y","refund_fee":"5.00","gmt_refund_pay":"2026-12-04 12:00:00","buyer_user_id":"2088000000000012","send_back_fee":"5.00"}`,
			gateway.Success, "", func(r *gateway.TradeRefundResponse) bool {
				return r.FundChange == "Y" && r.RefundFee == 500 && r.SendBackFee == 500 && r.BuyerUserID == "2088000000000012"
			}, "fund_change Y, refund_fee 5.00"},
		{"repeat", `{"code":"10000","msg":"Success","fund_change":"N","refund_fee":"5.00"}`, gateway.Success, "",
			func(r *gateway.TradeRefundResponse) bool { return r.FundChange == "N" && r.RefundFee == 500 }, "fund_change N"},
		{"empty optional amounts", `{"code":"10000","msg":"Success","fund_change":"Y","refund_fee":"","send_back_fee":""}`, gateway.Success, "",
			func(r *gateway.TradeRefundResponse) bool { return r.RefundFee == 0 && r.SendBackFee == 0 }, "empty amounts read as zero"},
		{"null amount", `{"code":"10000","msg":"Success","refund_fee":null}`, gateway.Success, "",
			func(r *gateway.TradeRefundResponse) bool { return r.RefundFee == 0 }, "null amount reads as zero"},
		{"openid buyer", `{"code":"10000","msg":"Success","fund_change":"Y","refund_fee":"0.01","buyer_open_id":"074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"}`, gateway.Success, "",
			func(r *gateway.TradeRefundResponse) bool { return r.BuyerOpenID != "" && r.RefundFee == 1 }, "buyer_open_id"},
		{"seller balance", `{"code":"40004","msg":"Business Failed","sub_code":"ACQ.SELLER_BALANCE_NOT_ENOUGH","sub_msg":"卖家余额不足"}`, gateway.Failure, "ACQ.SELLER_BALANCE_NOT_ENOUGH", nil, ""},
		{"over refund", `{"code":"40004","msg":"Business Failed","sub_code":"ACQ.REFUND_AMT_NOT_EQUAL_TOTAL","sub_msg":"退款金额超限"}`, gateway.Failure, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", nil, ""},
		{"system error", `{"code":"20000","msg":"Service Currently Unavailable","sub_code":"ACQ.SYSTEM_ERROR"}`, gateway.Unknown, "ACQ.SYSTEM_ERROR", nil, ""},
		{"bad amount", `{"code":"10000","msg":"Success","refund_fee":"5.001"}`, gateway.Unknown, "", nil, ""},
		{"number amount", `{"code":"10000","msg":"Success","refund_fee":5}`, gateway.Unknown, "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeGateway(t, func(*http.Request) (int, string, bool) { return 200, tc.raw, true })
			resp, err := c.TradeRefund(context.Background(), refundReq())
			if got := gateway.KindOf(err); got != tc.want {
				t.Fatalf("kind = %v (%v), want %v", got, err, tc.want)
			}
			if got := gateway.SubCodeOf(err); got != tc.subCode {
				t.Fatalf("sub_code = %q, want %q", got, tc.subCode)
			}
			if tc.check != nil && !tc.check(resp) {
				t.Fatalf("%s: got %+v", tc.checkMsg, resp)
			}
		})
	}
}

func TestRefundQueryReplyDecoding(t *testing.T) {
	for _, tc := range []struct {
		name     string
		raw      string
		want     gateway.Kind
		refunded bool
		amount   gateway.Amount
	}{
		{"refund success", `{"code":"10000","msg":"Success","trade_no":"1","out_trade_no":"T01_1","out_request_no":"R01_1","total_amount":"25.00","refund_amount":"5.00","refund_status":"REFUND_SUCCESS"}`, gateway.Success, true, 500},
		{"amount and no status", `{"code":"10000","msg":"Success","out_request_no":"R01_1","refund_amount":"5.00"}`, gateway.Success, true, 500},
		{"no refund data", `{"code":"10000","msg":"Success"}`, gateway.Success, false, 0},
		{"empty amounts", `{"code":"10000","msg":"Success","out_trade_no":"T01_1","total_amount":"","refund_amount":""}`, gateway.Success, false, 0},
		{"other status", `{"code":"10000","msg":"Success","refund_amount":"5.00","refund_status":"REFUND_PROCESSING"}`, gateway.Success, false, 500},
		{"trade not exist", `{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}`, gateway.Failure, false, 0},
		{"bad amount", `{"code":"10000","msg":"Success","refund_amount":"-5.00"}`, gateway.Unknown, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeGateway(t, func(*http.Request) (int, string, bool) { return 200, tc.raw, true })
			resp, err := c.TradeRefundQuery(context.Background(), gateway.TradeRefundQueryRequest{OutTradeNo: "T01_1", OutRequestNo: "R01_1"})
			if got := gateway.KindOf(err); got != tc.want {
				t.Fatalf("kind = %v (%v), want %v", got, err, tc.want)
			}
			if tc.want != gateway.Success {
				return
			}
			if resp.Refunded() != tc.refunded || resp.RefundAmount.Amount() != tc.amount {
				t.Fatalf("refunded = %v amount = %s, want %v %s (%+v)", resp.Refunded(), resp.RefundAmount, tc.refunded, tc.amount, resp)
			}
		})
	}
}

func TestBillDownloadURLReply(t *testing.T) {
	for _, tc := range []struct {
		name    string
		raw     string
		want    gateway.Kind
		subCode string
		url     string
	}{
		{"url", `{"code":"10000","msg":"Success","bill_download_url":"http://dwbillcenter.alipay.com/downloadBillFile.resource?bizType=X&userId=X&fileType=X&bizDates=X&downloadFileName=X&fileId=X"}`, gateway.Success, "", "http://dwbillcenter.alipay.com/downloadBillFile.resource?bizType=X&userId=X&fileType=X&bizDates=X&downloadFileName=X&fileId=X"},
		{"not ready", `{"code":"40004","msg":"Business Failed","sub_code":"isp.bill_not_exist","sub_msg":"账单不存在"}`, gateway.Failure, gateway.SubBillNotExist, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeGateway(t, func(*http.Request) (int, string, bool) { return 200, tc.raw, true })
			resp, err := c.BillDownloadURLQuery(context.Background(), gateway.BillDownloadURLQueryRequest{BillType: gateway.BillTypeTrade, BillDate: "2026-12-03"})
			if gateway.KindOf(err) != tc.want || gateway.SubCodeOf(err) != tc.subCode {
				t.Fatalf("err = %v, want %v %s", err, tc.want, tc.subCode)
			}
			if resp.BillDownloadURL != tc.url {
				t.Fatalf("url = %q", resp.BillDownloadURL)
			}
		})
	}
}

func TestReplyAmountJSON(t *testing.T) {
	for in, want := range map[string]gateway.ReplyAmount{`""`: 0, `null`: 0, `"0.01"`: 1, `"25"`: 2500, `"100000000.00"`: gateway.ReplyAmount(gateway.MaxAmount)} {
		var a gateway.ReplyAmount
		if err := json.Unmarshal([]byte(in), &a); err != nil || a != want {
			t.Errorf("%s: %v %v, want %v", in, a, err, want)
		}
	}
	for _, in := range []string{`25`, `"x"`, `"-1.00"`, `"1.001"`, `" "`, `true`} {
		var a gateway.ReplyAmount
		if err := json.Unmarshal([]byte(in), &a); err == nil {
			t.Errorf("%s: accepted as %v", in, a)
		}
	}
	if b, _ := json.Marshal(gateway.ReplyAmount(2500)); string(b) != `"25.00"` {
		t.Errorf("marshal = %s", b)
	}
}

// FuzzDecodeRefundReplies drives the reply decoding of the three new
// methods with arbitrary bodies. Only a verified body may ever succeed, and
// a success never carries a negative amount.
func FuzzDecodeRefundReplies(f *testing.F) {
	key := vectorKey(f)
	seeds := map[string][]string{
		gateway.MethodTradeRefund: {
			`{"code":"10000","msg":"Success","fund_change":"Y","refund_fee":"5.00","send_back_fee":"5.00"}`,
			`{"code":"10000","msg":"Success","fund_change":"N","refund_fee":""}`,
			`{"code":"40004","msg":"Business Failed","sub_code":"ACQ.SELLER_BALANCE_NOT_ENOUGH"}`,
		},
		gateway.MethodTradeRefundQuery: {
			`{"code":"10000","msg":"Success","refund_amount":"5.00","refund_status":"REFUND_SUCCESS"}`,
			`{"code":"10000","msg":"Success"}`,
			`{"code":"10000","msg":"Success","refund_amount":null,"total_amount":""}`,
		},
		gateway.MethodBillDownloadURLQuery: {
			`{"code":"10000","msg":"Success","bill_download_url":"http://127.0.0.1/b.zip"}`,
			`{"code":"40004","msg":"Business Failed","sub_code":"isp.bill_not_exist"}`,
		},
	}
	methods := []string{gateway.MethodTradeRefund, gateway.MethodTradeRefundQuery, gateway.MethodBillDownloadURLQuery}
	for i, m := range methods {
		for _, raw := range seeds[m] {
			body, err := gateway.EncodeReply(gateway.ResponseKey(m), []byte(raw), key, gateway.RSA2)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), body)
			f.Add(uint8(i), []byte(`{"`+gateway.ResponseKey(m)+`":`+raw+`}`))
		}
	}
	f.Add(uint8(0), []byte(`{"error_response":{"code":"40002","msg":"x"},"sign":"AAAA"}`))
	c := &gateway.Client{AppID: "1", PrivateKey: key, AlipayPublicKey: &key.PublicKey}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		m := methods[int(which)%len(methods)]
		var err error
		var negative bool
		switch m {
		case gateway.MethodTradeRefund:
			var out gateway.TradeRefundResponse
			err = c.Decode(m, body, &out)
			negative = out.RefundFee < 0 || out.SendBackFee < 0
		case gateway.MethodTradeRefundQuery:
			var out gateway.TradeRefundQueryResponse
			err = c.Decode(m, body, &out)
			negative = out.RefundAmount < 0 || out.TotalAmount < 0
		default:
			var out gateway.BillDownloadURLQueryResponse
			err = c.Decode(m, body, &out)
		}
		if err != nil {
			return
		}
		if negative {
			t.Fatalf("negative amount decoded from %q", body)
		}
		r, perr := gateway.ParseReply(body, m)
		if perr != nil || r.Verify(&key.PublicKey, gateway.RSA2) != nil {
			t.Fatalf("unverified body decoded as success: %q", body)
		}
	})
}
