package sandbox

import (
	"encoding/json"
	"strings"
	"time"

	"posagent/gateway"
)

// Sub-codes of the trade methods.
const (
	subInvalidParameter   = "ACQ.INVALID_PARAMETER"
	subTradeHasClose      = "ACQ.TRADE_HAS_CLOSE"
	subContextInconsist   = "ACQ.CONTEXT_INCONSISTENT"
	subAuthCodeInvalid    = "ACQ.PAYMENT_AUTH_CODE_INVALID"
	subBalanceNotEnough   = "ACQ.BUYER_BALANCE_NOT_ENOUGH"
	subACQSystemError     = "ACQ.SYSTEM_ERROR"
	subTradeNotExist      = "ACQ.TRADE_NOT_EXIST"
	subTradeBeenFreezen   = "ACQ.REASON_TRADE_BEEN_FREEZEN"
	subCancelNotAllowed   = "ACQ.CANCEL_NOT_ALLOWED"
	subTradeCancelTimeOut = "ACQ.TRADE_CANCEL_TIME_OUT"

	msgInvalidParameter = "参数无效"
	msgTradeHasClose    = "交易已经关闭"
	msgContextInconsist = "交易信息被篡改"
	msgAuthCodeInvalid  = "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款，如再次收款失败，请联系管理员处理。"
	msgBalanceNotEnough = "买家余额不足"
	msgACQSystemError   = "系统错误"
	msgTradeNotExist    = "交易不存在"
	msgTradeBeenFreezen = "当前交易被冻结，不允许进行撤销"
	msgCancelNotAllowed = "交易当前状态不允许撤销"
	msgCancelTimeOut    = "超过撤销时间范围"
	// msgTokenUnMatch is the sub_msg of the ACQ.INVALID_PARAMETER that
	// refuses a pay whose DYNAMIC_TOKEN_OUT_BIZ_NO is missing or is not the
	// sence_no the code was decoded with.
	msgTokenUnMatch = "参数无效: extend_params.DYNAMIC_TOKEN_OUT_BIZ_NO 与解码请求的 sence_no 不一致"
)

// flexAmount reads total_amount as the gateway does: a JSON string
// ("25.00") or a bare JSON number (25.5), read from its digits, never
// through a float.
type flexAmount gateway.Amount

func (a *flexAmount) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := gateway.ParseAmount(s)
	if err != nil {
		return err
	}
	*a = flexAmount(v)
	return nil
}

// tradePay answers alipay.trade.pay (scene bar_code). out_trade_no is
// idempotent: a repeat with the same auth_code and total_amount answers the
// first trade's current state (10000 paid, 10003 waiting, ACQ.TRADE_HAS_CLOSE
// closed), with other values ACQ.CONTEXT_INCONSISTENT, and a number closed by
// an earlier cancel ACQ.TRADE_HAS_CLOSE. A code pays once: a second trade
// with it, an expired code, or one that is no payment code at all is refused
// ACQ.PAYMENT_AUTH_CODE_INVALID. A definite failure (40004) leaves no trade.
func (s *Sandbox) tradePay(req *request, now time.Time) any {
	var in struct {
		gateway.TradePayRequest
		TotalAmount flexAmount `json:"total_amount"` // shadows the embedded field
	}
	if err := json.Unmarshal(req.biz, &in); err != nil {
		return fail(subInvalidParameter, msgInvalidParameter+": "+err.Error())
	}
	p := in.TradePayRequest
	p.TotalAmount = gateway.Amount(in.TotalAmount)
	if p.AuthCode != "" && !gateway.IsPaymentCode(p.AuthCode) {
		return payFailure(fail(subAuthCodeInvalid, msgAuthCodeInvalid), p.OutTradeNo)
	}
	if err := p.Validate(); err != nil {
		return fail(subInvalidParameter, msgInvalidParameter+": "+err.Error())
	}

	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.byOut[p.OutTradeNo]; t != nil {
		switch {
		case t.tradeNo == "":
			return payFailure(fail(subTradeHasClose, msgTradeHasClose), p.OutTradeNo)
		case t.authCode != p.AuthCode || t.amount != p.TotalAmount:
			return payFailure(fail(subContextInconsist, msgContextInconsist), p.OutTradeNo)
		}
		return payAnswer(t)
	}

	tc := testCodeOf(p.AuthCode)
	if !tc.payable() {
		return payFailure(fail(subAuthCodeInvalid, msgAuthCodeInvalid), p.OutTradeNo)
	}
	cs := l.code(p.AuthCode, now)
	if now.Sub(cs.firstSeen) > s.cfg.CodeTTL || cs.outTradeNo != "" {
		return payFailure(fail(subAuthCodeInvalid, msgAuthCodeInvalid), p.OutTradeNo)
	}
	token := p.ExtendParams[gateway.DynamicTokenOutBizNoKey]
	switch other, bound := l.sences[token]; {
	case cs.senceNo != "" && token != cs.senceNo:
		return payFailure(fail(subInvalidParameter, msgTokenUnMatch), p.OutTradeNo)
	case token != "" && bound && other != p.AuthCode:
		return payFailure(fail(subInvalidParameter, msgTokenUnMatch), p.OutTradeNo)
	case token != "" && cs.senceNo == "":
		// A decode the sandbox never saw (lost on the way): the token binds now.
		cs.senceNo = token
		l.sences[token] = p.AuthCode
	}
	switch tc.sc {
	case scBalanceNotEnough:
		return payFailure(fail(subBalanceNotEnough, msgBalanceNotEnough), p.OutTradeNo)
	case scPayUnknownNotFound:
		return payFailure(unknown(subACQSystemError, msgACQSystemError), p.OutTradeNo)
	}

	t := &trade{
		outTradeNo:  p.OutTradeNo,
		tradeNo:     l.newTradeNo(now),
		authCode:    p.AuthCode,
		amount:      p.TotalAmount,
		status:      statusSuccess,
		senceNo:     cs.senceNo,
		buyerUserID: userIDOf(p.AuthCode),
		tc:          tc,
		created:     now,
		paidAt:      now,
		subject:     p.Subject,
		terminalID:  p.TerminalID,
		operatorID:  p.OperatorID,
		storeID:     p.StoreID,
	}
	if tc.waits() {
		t.status, t.paidAt = statusWait, time.Time{}
	}
	cs.outTradeNo = p.OutTradeNo
	l.add(t)
	if tc.sc == scPayUnknownPaid {
		return payFailure(unknown(subACQSystemError, msgACQSystemError), p.OutTradeNo)
	}
	return payAnswer(t)
}

// payFailure is a pay reply without a trade.
func payFailure(c gateway.Common, outTradeNo string) gateway.TradePayResponse {
	return gateway.TradePayResponse{Common: c, OutTradeNo: outTradeNo}
}

// payAnswer is the pay reply for a trade in its current state.
func payAnswer(t *trade) gateway.TradePayResponse {
	r := gateway.TradePayResponse{
		TradeNo:      t.tradeNo,
		OutTradeNo:   t.outTradeNo,
		BuyerLogonID: logonIDOf(t.buyerUserID),
		TotalAmount:  t.amount,
		BuyerUserID:  t.buyerUserID,
	}
	switch t.status {
	case statusSuccess:
		r.Common = success
		r.ReceiptAmount, r.BuyerPayAmount = t.amount, t.amount
		r.GmtPayment = t.paidAt.In(gateway.Shanghai).Format(gateway.TimestampLayout)
	case statusWait:
		r.Common = gateway.Common{Code: codeInProgress, Msg: msgInProgress}
	default:
		r.Common = fail(subTradeHasClose, msgTradeHasClose)
	}
	return r
}

// tradeQuery answers alipay.trade.query. A waiting test-code trade counts
// the queries and resolves after its N-th (see TESTCODES.md).
func (s *Sandbox) tradeQuery(req *request, now time.Time) any {
	var in gateway.TradeQueryRequest
	if err := parseBiz(req.biz, &in); err != nil {
		return fail(subInvalidParameter, msgInvalidParameter+": "+err.Error())
	}
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.find(in.OutTradeNo, in.TradeNo)
	if t == nil || t.tradeNo == "" {
		return gateway.TradeQueryResponse{Common: fail(subTradeNotExist, msgTradeNotExist), OutTradeNo: in.OutTradeNo}
	}
	if t.status == statusWait {
		t.queries++
		if n := t.tc.resolvesAfter(); n > 0 && t.queries >= n {
			t.status = t.tc.resolvedStatus()
			if t.status == statusSuccess {
				t.paidAt = now
			}
		}
	}
	r := gateway.TradeQueryResponse{
		Common:       success,
		TradeNo:      t.tradeNo,
		OutTradeNo:   t.outTradeNo,
		TradeStatus:  t.status,
		TotalAmount:  t.amount,
		BuyerLogonID: logonIDOf(t.buyerUserID),
		BuyerUserID:  t.buyerUserID,
	}
	if !t.paidAt.IsZero() {
		r.SendPayDate = t.paidAt.In(gateway.Shanghai).Format(gateway.TimestampLayout)
	}
	return r
}

// tradeCancel answers alipay.trade.cancel: a waiting trade is closed
// (action close), a paid one refunded and closed (action refund). An
// out_trade_no the sandbox has not seen is closed (action close), so a pay
// that arrives later with it is refused ACQ.TRADE_HAS_CLOSE. A repeated
// cancel gives the same answer again. Refusals: the test codes' (frozen,
// not allowed, time out) and ACQ.TRADE_CANCEL_TIME_OUT for a trade older
// than Config.CancelWindow.
func (s *Sandbox) tradeCancel(req *request, now time.Time) any {
	var in gateway.TradeCancelRequest
	if err := parseBiz(req.biz, &in); err != nil {
		return fail(subInvalidParameter, msgInvalidParameter+": "+err.Error())
	}
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.find(in.OutTradeNo, in.TradeNo)
	if t == nil {
		if in.TradeNo != "" {
			return gateway.TradeCancelResponse{Common: fail(subTradeNotExist, msgTradeNotExist), TradeNo: in.TradeNo}
		}
		if s.faults.get().CancelUnseenNotExist {
			// Faults.CancelUnseenNotExist: the number stays open.
			return gateway.TradeCancelResponse{Common: fail(subTradeNotExist, msgTradeNotExist), OutTradeNo: in.OutTradeNo}
		}
		t = &trade{
			outTradeNo:   in.OutTradeNo,
			status:       statusClosed,
			created:      now,
			cancelAction: gateway.CancelClose,
			cancelledAt:  now,
		}
		l.add(t)
		return cancelAnswer(t)
	}
	if t.cancelAction != "" {
		return cancelAnswer(t)
	}
	refuse := func(sub, msg string) any {
		return gateway.TradeCancelResponse{Common: fail(sub, msg), TradeNo: t.tradeNo, OutTradeNo: t.outTradeNo}
	}
	switch {
	case t.refundedAmount > 0:
		// Money already went back by trade.refund: only refunds may follow.
		return refuse(subCancelNotAllowed, msgCancelNotAllowed)
	case t.tc.sc == scFrozen:
		return refuse(subTradeBeenFreezen, msgTradeBeenFreezen)
	case t.tc.sc == scCancelNotAllowed:
		return refuse(subCancelNotAllowed, msgCancelNotAllowed)
	case t.tc.sc == scCancelTimeOut || now.Sub(t.created) > s.cfg.CancelWindow:
		return refuse(subTradeCancelTimeOut, msgCancelTimeOut)
	case t.tc.sc == scCancelRetry && !t.cancelRetried:
		t.cancelRetried = true
		return gateway.TradeCancelResponse{Common: success, TradeNo: t.tradeNo, OutTradeNo: t.outTradeNo, RetryFlag: "Y"}
	}
	t.cancelAction = gateway.CancelClose
	if t.status == statusSuccess {
		t.cancelAction, t.refunded = gateway.CancelRefund, true
	}
	t.status, t.cancelledAt = statusClosed, now
	return cancelAnswer(t)
}

// cancelAnswer is the reply for a cancelled trade; it is the same every time.
func cancelAnswer(t *trade) gateway.TradeCancelResponse {
	r := gateway.TradeCancelResponse{
		Common:     success,
		TradeNo:    t.tradeNo,
		OutTradeNo: t.outTradeNo,
		RetryFlag:  "N",
		Action:     t.cancelAction,
	}
	if t.cancelAction == gateway.CancelRefund {
		r.GmtRefundPay = t.cancelledAt.In(gateway.Shanghai).Format(gateway.TimestampLayout)
	}
	return r
}
