package gateway

import "context"

// TradePayRequest is the biz_content of alipay.trade.pay for a barcode
// (scene=bar_code) payment.
type TradePayRequest struct {
	// OutTradeNo is the merchant's number for this attempt; the gateway is
	// idempotent on it. Required, ≤64 of [A-Za-z0-9_].
	OutTradeNo string `json:"out_trade_no"`
	// Scene is "bar_code" (default when empty).
	Scene string `json:"scene"`
	// AuthCode is the scanned payment code. Required.
	AuthCode string `json:"auth_code"`
	// ProductCode defaults to FACE_TO_FACE_PAYMENT on the gateway side.
	ProductCode string `json:"product_code,omitempty"`
	// Subject is the order title. Required, ≤256.
	Subject string `json:"subject"`
	// TotalAmount is what the buyer pays, after any discount. Required,
	// 0.01 … 100,000,000.00.
	TotalAmount Amount `json:"total_amount"`
	// Body is an optional description, ≤128.
	Body string `json:"body,omitempty"`
	// OperatorID (cashier), StoreID and TerminalID are optional, ≤28/32/32.
	OperatorID string `json:"operator_id,omitempty"`
	StoreID    string `json:"store_id,omitempty"`
	TerminalID string `json:"terminal_id,omitempty"`
	// TimeoutExpress is the latest payment time, e.g. "2m". Optional.
	TimeoutExpress string `json:"timeout_express,omitempty"`
	// ExtendParams go out with their keys verbatim, e.g.
	// DYNAMIC_TOKEN_OUT_BIZ_NO.
	ExtendParams map[string]string `json:"extend_params,omitempty"`
}

// Validate checks the request as the API documents it.
func (r *TradePayRequest) Validate() error {
	var c checker
	c.bizNo("out_trade_no", r.OutTradeNo, 64)
	if r.Scene != "" && r.Scene != "bar_code" && r.Scene != "security_code" {
		c.fail("scene", "must be bar_code or security_code")
	}
	c.str("auth_code", r.AuthCode, true, 32)
	if r.AuthCode != "" && !IsPaymentCode(r.AuthCode) {
		c.fail("auth_code", "not an Alipay payment code")
	}
	c.str("subject", r.Subject, true, 256)
	if r.TotalAmount < 1 || r.TotalAmount > MaxAmount {
		c.fail("total_amount", "must be between 0.01 and "+MaxAmount.String())
	}
	c.str("body", r.Body, false, 128)
	c.str("operator_id", r.OperatorID, false, 28)
	c.str("store_id", r.StoreID, false, 32)
	c.str("terminal_id", r.TerminalID, false, 32)
	if v, ok := r.ExtendParams[DynamicTokenOutBizNoKey]; ok {
		c.bizNo("extend_params."+DynamicTokenOutBizNoKey, v, 128)
	}
	return c.result()
}

// TradePayResponse is the gateway's answer to a payment.
type TradePayResponse struct {
	Common
	TradeNo        string `json:"trade_no,omitempty"`
	OutTradeNo     string `json:"out_trade_no,omitempty"`
	BuyerLogonID   string `json:"buyer_logon_id,omitempty"`
	TotalAmount    Amount `json:"total_amount,omitempty"`
	ReceiptAmount  Amount `json:"receipt_amount,omitempty"`
	BuyerPayAmount Amount `json:"buyer_pay_amount,omitempty"`
	GmtPayment     string `json:"gmt_payment,omitempty"`
	BuyerUserID    string `json:"buyer_user_id,omitempty"`
	BuyerOpenID    string `json:"buyer_open_id,omitempty"` // OpenID apps
}

// TradePay calls alipay.trade.pay. Success means paid; InProgress (10003)
// means the buyer is confirming and the trade must be polled with
// TradeQuery; Unknown means the outcome must be found by TradeQuery.
func (c *Client) TradePay(ctx context.Context, req TradePayRequest) (*TradePayResponse, error) {
	if req.Scene == "" {
		req.Scene = "bar_code"
	}
	if err := req.Validate(); err != nil {
		return nil, &Error{Method: MethodTradePay, Kind: Invalid, Err: err}
	}
	var resp TradePayResponse
	err := c.call(ctx, MethodTradePay, &req, &resp)
	return &resp, err
}
