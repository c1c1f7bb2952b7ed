package gateway

import "context"

// Trade statuses reported by trade.query.
const (
	TradeWaitBuyerPay = "WAIT_BUYER_PAY"
	TradeClosed       = "TRADE_CLOSED"
	TradeSuccess      = "TRADE_SUCCESS"
	TradeFinished     = "TRADE_FINISHED"
)

// TradeQueryRequest names a trade by out_trade_no or trade_no (one is
// required; trade_no wins when both are set).
type TradeQueryRequest struct {
	OutTradeNo string `json:"out_trade_no,omitempty"`
	TradeNo    string `json:"trade_no,omitempty"`
}

// Validate checks the request as the API documents it.
func (r *TradeQueryRequest) Validate() error {
	var c checker
	c.oneOf("out_trade_no|trade_no", r.OutTradeNo, r.TradeNo)
	c.str("out_trade_no", r.OutTradeNo, false, 64)
	c.str("trade_no", r.TradeNo, false, 64)
	return c.result()
}

// TradeQueryResponse is the state of one trade.
type TradeQueryResponse struct {
	Common
	TradeNo      string `json:"trade_no,omitempty"`
	OutTradeNo   string `json:"out_trade_no,omitempty"`
	TradeStatus  string `json:"trade_status,omitempty"`
	TotalAmount  Amount `json:"total_amount,omitempty"`
	BuyerLogonID string `json:"buyer_logon_id,omitempty"`
	BuyerUserID  string `json:"buyer_user_id,omitempty"`
	BuyerOpenID  string `json:"buyer_open_id,omitempty"` // OpenID apps
	SendPayDate  string `json:"send_pay_date,omitempty"`
}

// TradeQuery calls alipay.trade.query. A trade the gateway has never seen
// is a Failure with sub_code ACQ.TRADE_NOT_EXIST.
func (c *Client) TradeQuery(ctx context.Context, req TradeQueryRequest) (*TradeQueryResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, &Error{Method: MethodTradeQuery, Kind: Invalid, Err: err}
	}
	var resp TradeQueryResponse
	err := c.call(ctx, MethodTradeQuery, &req, &resp)
	return &resp, err
}
