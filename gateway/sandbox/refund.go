package sandbox

import (
	"encoding/json"
	"slices"
	"time"

	"posagent/gateway"
)

// Sub-codes of the refund methods.
const (
	subTradeStatusError    = "ACQ.TRADE_STATUS_ERROR"
	subRefundAmtNotEqual   = "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"
	subSellerBalance       = "ACQ.SELLER_BALANCE_NOT_ENOUGH"
	subTradeNotAllowRefund = "ACQ.TRADE_NOT_ALLOW_REFUND"
	subDiscordantRepeat    = "ACQ.DISCORDANT_REPEAT_REQUEST"
	msgTradeStatusError    = "交易状态不合法"
	msgRefundAmtNotEqual   = "退款金额超限"
	msgSellerBalance       = "卖家余额不足"
	msgTradeNotAllowRefund = "当前交易不允许退款"
	msgDiscordantRepeat    = "请求信息不一致：退款请求号已用于另一退款金额"
	fundChangeYes          = "Y"
	fundChangeNo           = "N"
)

// tradeRefund answers alipay.trade.refund (SPEC §11). out_request_no is
// idempotent per trade: a repeat with the same amount answers the first
// result with fund_change N, with another amount
// ACQ.DISCORDANT_REPEAT_REQUEST. Without out_request_no the request number
// is the trade's out_trade_no, as the API documents. A trade not paid
// (waiting, closed, cancelled) is refused ACQ.TRADE_STATUS_ERROR; more than
// is left to refund ACQ.REFUND_AMT_NOT_EQUAL_TOTAL; test codes 18–21 refuse
// or lose refunds (TESTCODES.md). A trade refunded in full is TRADE_CLOSED.
// A refused refund leaves nothing behind: the same out_request_no may be
// sent again.
func (s *Sandbox) tradeRefund(req *request, now time.Time) any {
	var in struct {
		gateway.TradeRefundRequest
		RefundAmount flexAmount `json:"refund_amount"` // shadows the embedded field
	}
	if err := json.Unmarshal(req.biz, &in); err != nil {
		return refundFailure(fail(subInvalidParameter, msgInvalidParameter+": "+err.Error()))
	}
	p := in.TradeRefundRequest
	p.RefundAmount = gateway.Amount(in.RefundAmount)
	check := p
	if check.OutRequestNo == "" {
		check.OutRequestNo = "defaulted" // checked below once the trade is known
	}
	if err := check.Validate(); err != nil {
		return refundFailure(fail(subInvalidParameter, msgInvalidParameter+": "+err.Error()))
	}

	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.find(p.OutTradeNo, p.TradeNo)
	if t == nil || t.tradeNo == "" {
		return refundFailure(fail(subTradeNotExist, msgTradeNotExist))
	}
	reqNo := p.OutRequestNo
	if reqNo == "" {
		reqNo = t.outTradeNo
	}
	if r := t.byRequest[reqNo]; r != nil {
		if r.amount != p.RefundAmount {
			return refundFailure(fail(subDiscordantRepeat, msgDiscordantRepeat))
		}
		return refundAnswer(t, r, fundChangeNo)
	}
	fullyRefunded := t.cancelAction == "" && t.amount > 0 && t.refundedAmount == t.amount
	if t.status != statusSuccess && !fullyRefunded {
		return refundFailure(fail(subTradeStatusError, msgTradeStatusError))
	}
	if p.RefundAmount > t.amount-t.refundedAmount {
		return refundFailure(fail(subRefundAmtNotEqual, msgRefundAmtNotEqual))
	}
	switch t.tc.sc {
	case scRefundBalance:
		t.refundCalls++
		if t.tc.n == 0 || t.refundCalls <= t.tc.n {
			return refundFailure(fail(subSellerBalance, msgSellerBalance))
		}
	case scRefundNotAllowed:
		return refundFailure(fail(subTradeNotAllowRefund, msgTradeNotAllowRefund))
	case scRefundUnknownNone:
		if !t.refundLost[reqNo] {
			if t.refundLost == nil {
				t.refundLost = make(map[string]bool)
			}
			t.refundLost[reqNo] = true
			return refundFailure(unknown(subACQSystemError, msgACQSystemError))
		}
	}

	r := &refund{outRequestNo: reqNo, amount: p.RefundAmount, reason: p.RefundReason, at: now}
	t.refunds = append(t.refunds, r)
	if t.byRequest == nil {
		t.byRequest = make(map[string]*refund)
	}
	t.byRequest[reqNo] = r
	t.refundedAmount += r.amount
	if t.refundedAmount == t.amount {
		t.status, t.refunded = statusClosed, true
	}
	if t.tc.sc == scRefundUnknownDone {
		return refundFailure(unknown(subACQSystemError, msgACQSystemError))
	}
	return refundAnswer(t, r, fundChangeYes)
}

// refundFailure is a refund reply without a refund.
func refundFailure(c gateway.Common) gateway.TradeRefundResponse {
	return gateway.TradeRefundResponse{Common: c}
}

// refundAnswer is the 10000 reply for refund r of trade t.
func refundAnswer(t *trade, r *refund, fundChange string) gateway.TradeRefundResponse {
	return gateway.TradeRefundResponse{
		Common:       success,
		TradeNo:      t.tradeNo,
		OutTradeNo:   t.outTradeNo,
		BuyerLogonID: logonIDOf(t.buyerUserID),
		FundChange:   fundChange,
		RefundFee:    gateway.ReplyAmount(t.refundedAmount),
		GmtRefundPay: r.at.In(gateway.Shanghai).Format(gateway.TimestampLayout),
		BuyerUserID:  t.buyerUserID,
		SendBackFee:  gateway.ReplyAmount(r.amount),
	}
}

// tradeRefundQuery answers alipay.trade.fastpay.refund.query: the refund of
// out_request_no with refund_status REFUND_SUCCESS, or a bare 10000 reply
// (no refund data) when the trade has no such refund. gmt_refund_pay is
// given only when query_options asks for it, as on the real gateway. An
// unknown trade is ACQ.TRADE_NOT_EXIST.
func (s *Sandbox) tradeRefundQuery(req *request, _ time.Time) any {
	var in gateway.TradeRefundQueryRequest
	if err := parseBiz(req.biz, &in); err != nil {
		return gateway.TradeRefundQueryResponse{Common: fail(subInvalidParameter, msgInvalidParameter+": "+err.Error())}
	}
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.find(in.OutTradeNo, in.TradeNo)
	if t == nil || t.tradeNo == "" {
		return gateway.TradeRefundQueryResponse{Common: fail(subTradeNotExist, msgTradeNotExist)}
	}
	r := t.byRequest[in.OutRequestNo]
	if r == nil {
		return gateway.TradeRefundQueryResponse{Common: success}
	}
	resp := gateway.TradeRefundQueryResponse{
		Common:       success,
		TradeNo:      t.tradeNo,
		OutTradeNo:   t.outTradeNo,
		OutRequestNo: r.outRequestNo,
		TotalAmount:  gateway.ReplyAmount(t.amount),
		RefundAmount: gateway.ReplyAmount(r.amount),
		RefundStatus: gateway.RefundSuccess,
		RefundReason: r.reason,
		SendBackFee:  gateway.ReplyAmount(r.amount),
	}
	if slices.Contains(in.QueryOptions, gateway.QueryOptionGmtRefundPay) {
		resp.GmtRefundPay = r.at.In(gateway.Shanghai).Format(gateway.TimestampLayout)
	}
	return resp
}
