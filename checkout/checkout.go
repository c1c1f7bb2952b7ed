package checkout

import (
	"time"

	"posagent/gateway"
)

// Checkout is one attempt to charge an order, as the local API shows it
// (SPEC §6). Money is fen, written as "25.00"; times are RFC 3339.
type Checkout struct {
	ID      string `json:"id"`
	OrderID string `json:"order_id"`
	State   State  `json:"state"`
	// Amount is the order total; Discount what the coupon took off;
	// PaidAmount what the gateway charged (0.00 until paid).
	Amount     gateway.Amount `json:"amount"`
	Discount   gateway.Amount `json:"discount"`
	PaidAmount gateway.Amount `json:"paid_amount"`
	// UserID is the buyer decoded from the code; empty when the decode did
	// not give one (see DecodeResult).
	UserID     string `json:"user_id"`
	CouponID   string `json:"coupon_id"`
	SenceNo    string `json:"sence_no"`
	OutTradeNo string `json:"out_trade_no"`
	TradeNo    string `json:"trade_no"`
	// Refunded: the money went back, all of it: the trade was paid and then
	// cancelled, or its refunds reached PaidAmount (SPEC §11).
	Refunded bool `json:"refunded"`
	// RefundedAmount is the sum of the checkout's refunds that the gateway
	// made (refund.go); 0.00 when none.
	RefundedAmount gateway.Amount `json:"refunded_amount"`
	// ConsultResult is the answer of scene.cooperation.consult, or null when
	// no consult was made or it did not answer in time.
	ConsultResult *bool     `json:"consult_result"`
	Error         *Error    `json:"error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	// Extensions to SPEC §6.

	Subject    string `json:"subject"`
	OperatorID string `json:"operator_id,omitempty"`
	// DecodeResult says how the code was decoded: "user_id", or the
	// sub_code that made posagent pay without coupons (USER_UN_AUTH,
	// INDEX_NOT_EXIST), or "unavailable" (on_decode_unavailable =
	// pay_without_coupons). Empty before a decode.
	DecodeResult string `json:"decode_result,omitempty"`
}

// Decode results recorded on a checkout beside the gateway's sub_codes.
const (
	DecodeUserID      = "user_id"
	DecodeUnavailable = "unavailable"
)

// record is a checkout as stored: the public view plus what the engine needs
// to resume it.
type record struct {
	Checkout
	// ScanFrom is when the checkout started to wait for a scan, on the
	// engine's steady clock (wall time at start + monotonic time since): the
	// scan timeout counts from it, so a wall step while it waits neither
	// cancels it early nor keeps it late. After a restart it reads like a
	// wall time, the best there is. Zero in records from before: CreatedAt.
	ScanFrom time.Time `json:"scan_from,omitzero"`
	// CodeMask is the masked payment code of the current attempt (for logs).
	CodeMask string `json:"code_mask,omitempty"`
	// PayAt is when the pay intent was committed, i.e. the first trade.pay
	// send (wall clock). Deadline is decision_deadline after it, on the
	// engine's steady clock (clock.Steady), so a wall step does not move it
	// while the process runs.
	PayAt    time.Time `json:"pay_at,omitzero"`
	Deadline time.Time `json:"deadline,omitzero"`
	// LastPayAt is when the last trade.pay of OutTradeNo was sent (steady
	// clock), committed before each send: a cancel answered
	// ACQ.TRADE_NOT_EXIST is repeated until late_pay_window after it.
	LastPayAt time.Time `json:"last_pay_at,omitzero"`
	// CancelReason is why the checkout went to cancelling: "deadline",
	// "register", "restart" or "resend_refused".
	CancelReason string `json:"cancel_reason,omitempty"`
}

// CreateRequest is what the register sends to start a checkout.
type CreateRequest struct {
	// OrderID is the register's order number. Required, at most 64
	// characters, printable ASCII.
	OrderID string
	// Amount is the order total. Required, 0.01 … 100,000,000.00.
	Amount gateway.Amount
	// Subject is the order title sent on trade.pay. Required, at most 256
	// characters.
	Subject string
	// OperatorID is the cashier, sent as operator_id. Optional, at most 28.
	OperatorID string
	// AuthCode is a payment code scanned by the register itself; when set,
	// the checkout goes straight to decoding. Never stored.
	AuthCode string
}
