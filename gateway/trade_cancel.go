package gateway

import "context"

// TradeCancelRequest names the trade to cancel by out_trade_no or trade_no.
type TradeCancelRequest struct {
	OutTradeNo string `json:"out_trade_no,omitempty"`
	TradeNo    string `json:"trade_no,omitempty"`
}

// Validate checks the request as the API documents it.
func (r *TradeCancelRequest) Validate() error {
	var c checker
	c.oneOf("out_trade_no|trade_no", r.OutTradeNo, r.TradeNo)
	c.str("out_trade_no", r.OutTradeNo, false, 64)
	c.str("trade_no", r.TradeNo, false, 64)
	return c.result()
}

// Cancel actions reported by trade.cancel.
const (
	CancelClose  = "close"  // the trade was not paid and is now closed
	CancelRefund = "refund" // the trade was paid and the money went back
)

// TradeCancelResponse is the gateway's answer to a cancel.
type TradeCancelResponse struct {
	Common
	TradeNo    string `json:"trade_no,omitempty"`
	OutTradeNo string `json:"out_trade_no,omitempty"`
	// RetryFlag "Y" means the cancel did not complete and must be sent again.
	RetryFlag string `json:"retry_flag,omitempty"`
	// Action is "close", "refund" or "" (nothing was done).
	Action       string `json:"action,omitempty"`
	GmtRefundPay string `json:"gmt_refund_pay,omitempty"`
}

// TradeCancel calls alipay.trade.cancel. Success with RetryFlag "Y" is not
// done yet: send it again. Refusals (ACQ.REASON_TRADE_BEEN_FREEZEN,
// ACQ.CANCEL_NOT_ALLOWED, ACQ.TRADE_CANCEL_TIME_OUT) are Failure.
func (c *Client) TradeCancel(ctx context.Context, req TradeCancelRequest) (*TradeCancelResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, &Error{Method: MethodTradeCancel, Kind: Invalid, Err: err}
	}
	var resp TradeCancelResponse
	err := c.call(ctx, MethodTradeCancel, &req, &resp)
	return &resp, err
}
