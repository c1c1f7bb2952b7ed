package gateway

import (
	"context"
	"fmt"
)

// ReplyAmount is an amount read from a reply: like Amount, except that an
// empty string or null reads as zero. The gateway leaves optional amounts
// empty (a refund query that found nothing, a refund_fee it did not fill);
// that must not turn a verified answer into an unparsable, Unknown one.
// Anything else that is not a valid amount is still refused.
type ReplyAmount int64

// Amount returns the value as an Amount.
func (a ReplyAmount) Amount() Amount { return Amount(a) }

// String formats the amount with two decimals, as Amount does.
func (a ReplyAmount) String() string { return Amount(a).String() }

// MarshalJSON writes the amount as Amount does, "25.00".
func (a ReplyAmount) MarshalJSON() ([]byte, error) { return Amount(a).MarshalJSON() }

// UnmarshalJSON reads "25.00", and "" or null as zero.
func (a *ReplyAmount) UnmarshalJSON(b []byte) error {
	if s := string(b); s == `""` || s == "null" {
		*a = 0
		return nil
	}
	var v Amount
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*a = ReplyAmount(v)
	return nil
}

// TradeRefundRequest is the biz_content of alipay.trade.refund.
type TradeRefundRequest struct {
	// OutTradeNo or TradeNo names the paid trade (one is required, ≤64;
	// trade_no wins on the gateway when both are set).
	OutTradeNo string `json:"out_trade_no,omitempty"`
	TradeNo    string `json:"trade_no,omitempty"`
	// RefundAmount is what goes back to the buyer this time. Required,
	// 0.01 … 100,000,000.00; the refunds of a trade never exceed its amount.
	RefundAmount Amount `json:"refund_amount"`
	// RefundReason is shown to the buyer. Optional, ≤256.
	RefundReason string `json:"refund_reason,omitempty"`
	// OutRequestNo identifies this refund within the trade; the gateway is
	// idempotent on it (a repeat answers the first result with fund_change
	// "N"). The API makes it optional for a full refund; posagent always
	// sends one, so that every resend is the same refund: required here,
	// ≤64 of [A-Za-z0-9_].
	OutRequestNo string `json:"out_request_no"`
	// OperatorID, StoreID and TerminalID are optional, ≤28/32/32.
	OperatorID string `json:"operator_id,omitempty"`
	StoreID    string `json:"store_id,omitempty"`
	TerminalID string `json:"terminal_id,omitempty"`
}

// Validate checks the request as the API documents it.
func (r *TradeRefundRequest) Validate() error {
	var c checker
	c.oneOf("out_trade_no|trade_no", r.OutTradeNo, r.TradeNo)
	c.str("out_trade_no", r.OutTradeNo, false, 64)
	c.str("trade_no", r.TradeNo, false, 64)
	if r.RefundAmount < 1 || r.RefundAmount > MaxAmount {
		c.fail("refund_amount", "must be between 0.01 and "+MaxAmount.String())
	}
	c.str("refund_reason", r.RefundReason, false, 256)
	c.bizNo("out_request_no", r.OutRequestNo, 64)
	c.str("operator_id", r.OperatorID, false, 28)
	c.str("store_id", r.StoreID, false, 32)
	c.str("terminal_id", r.TerminalID, false, 32)
	return c.result()
}

// TradeRefundResponse is the gateway's answer to a refund.
type TradeRefundResponse struct {
	Common
	TradeNo      string `json:"trade_no,omitempty"`
	OutTradeNo   string `json:"out_trade_no,omitempty"`
	BuyerLogonID string `json:"buyer_logon_id,omitempty"`
	// FundChange is "Y" when this call moved money, "N" when it did not: a
	// repeat of a refund already made answers 10000 with "N". Either way
	// 10000 means the refund of OutRequestNo is done.
	FundChange string `json:"fund_change,omitempty"`
	// RefundFee is the total refunded on the trade so far, this refund
	// included.
	RefundFee    ReplyAmount `json:"refund_fee,omitempty"`
	GmtRefundPay string      `json:"gmt_refund_pay,omitempty"`
	BuyerUserID  string      `json:"buyer_user_id,omitempty"`
	BuyerOpenID  string      `json:"buyer_open_id,omitempty"`
	// SendBackFee is what actually went back to the buyer this time.
	SendBackFee ReplyAmount `json:"send_back_fee,omitempty"`
}

// TradeRefund calls alipay.trade.refund. Success (10000) means the refund
// of req.OutRequestNo is done, whatever FundChange says. Refusals are
// Failure with the gateway's sub_code (ACQ.SELLER_BALANCE_NOT_ENOUGH,
// ACQ.TRADE_NOT_ALLOW_REFUND, ACQ.REFUND_AMT_NOT_EQUAL_TOTAL,
// ACQ.TRADE_STATUS_ERROR, ACQ.TRADE_NOT_EXIST, ACQ.DISCORDANT_REPEAT_REQUEST,
// …). Unknown (20000 ACQ.SYSTEM_ERROR, a timeout, a lost reply) must be
// settled with TradeRefundQuery for the same out_request_no, or by sending
// the same request again.
func (c *Client) TradeRefund(ctx context.Context, req TradeRefundRequest) (*TradeRefundResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, &Error{Method: MethodTradeRefund, Kind: Invalid, Err: err}
	}
	var resp TradeRefundResponse
	err := c.call(ctx, MethodTradeRefund, &req, &resp)
	return &resp, err
}

// Refund statuses reported by the refund query.
const (
	RefundSuccess = "REFUND_SUCCESS"
)

// QueryOptionGmtRefundPay asks the refund query for gmt_refund_pay.
const QueryOptionGmtRefundPay = "gmt_refund_pay"

// TradeRefundQueryRequest is the biz_content of
// alipay.trade.fastpay.refund.query.
type TradeRefundQueryRequest struct {
	// OutTradeNo or TradeNo names the trade (one is required, ≤64).
	OutTradeNo string `json:"out_trade_no,omitempty"`
	TradeNo    string `json:"trade_no,omitempty"`
	// OutRequestNo is the refund's out_request_no. Required, ≤64 of
	// [A-Za-z0-9_].
	OutRequestNo string `json:"out_request_no"`
	// QueryOptions asks for optional reply fields, e.g.
	// QueryOptionGmtRefundPay. Optional.
	QueryOptions []string `json:"query_options,omitempty"`
}

// Validate checks the request as the API documents it.
func (r *TradeRefundQueryRequest) Validate() error {
	var c checker
	c.oneOf("out_trade_no|trade_no", r.OutTradeNo, r.TradeNo)
	c.str("out_trade_no", r.OutTradeNo, false, 64)
	c.str("trade_no", r.TradeNo, false, 64)
	c.bizNo("out_request_no", r.OutRequestNo, 64)
	for i, o := range r.QueryOptions {
		c.str(fmt.Sprintf("query_options[%d]", i), o, true, 1024)
	}
	return c.result()
}

// TradeRefundQueryResponse is the state of one refund. A 10000 reply
// without refund data (no refund_amount, no refund_status) means the
// gateway has no such refund: it was not made (yet).
type TradeRefundQueryResponse struct {
	Common
	TradeNo      string `json:"trade_no,omitempty"`
	OutTradeNo   string `json:"out_trade_no,omitempty"`
	OutRequestNo string `json:"out_request_no,omitempty"`
	// TotalAmount is the trade's amount.
	TotalAmount ReplyAmount `json:"total_amount,omitempty"`
	// RefundAmount is this refund's amount.
	RefundAmount ReplyAmount `json:"refund_amount,omitempty"`
	// RefundStatus is REFUND_SUCCESS, or empty (then a RefundAmount alone
	// also means refunded, as the API documents).
	RefundStatus string `json:"refund_status,omitempty"`
	RefundReason string `json:"refund_reason,omitempty"`
	// GmtRefundPay is set when asked for with QueryOptionGmtRefundPay.
	GmtRefundPay string      `json:"gmt_refund_pay,omitempty"`
	SendBackFee  ReplyAmount `json:"send_back_fee,omitempty"`
}

// Refunded reports whether the reply says the refund was made: status
// REFUND_SUCCESS, or no status and a refund_amount (SPEC §11). false on a
// 10000 reply means "not refunded yet": send the same refund again.
func (r *TradeRefundQueryResponse) Refunded() bool {
	return r.RefundStatus == RefundSuccess || (r.RefundStatus == "" && r.RefundAmount > 0)
}

// TradeRefundQuery calls alipay.trade.fastpay.refund.query. Success carries
// the refund's state (see Refunded); a trade the gateway has never seen is
// a Failure with sub_code ACQ.TRADE_NOT_EXIST.
func (c *Client) TradeRefundQuery(ctx context.Context, req TradeRefundQueryRequest) (*TradeRefundQueryResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, &Error{Method: MethodTradeRefundQuery, Kind: Invalid, Err: err}
	}
	var resp TradeRefundQueryResponse
	err := c.call(ctx, MethodTradeRefundQuery, &req, &resp)
	return &resp, err
}
