package checkout

import (
	"errors"
	"fmt"

	"posagent/gateway"
)

// Sentinels for what callers branch on; the API maps them to HTTP statuses.
// Errors returned by the Engine wrap one of them (test with errors.Is) and
// may carry an *Error with a cashier-facing code and message (errors.As).
var (
	// ErrNotFound: no checkout (or coupon) with that id. → 404
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request contradicts the current state (same order_id
	// with another amount, another checkout awaiting a scan, cancelling a
	// paid checkout, ...). → 409
	ErrConflict = errors.New("conflict")
	// The conflicts below wrap ErrConflict too (→ 409) and carry an *Error
	// whose Code names them.

	// ErrScannerBusy: another checkout holds the scanner, awaiting a scan
	// or decoding one. Code SCANNER_BUSY.
	ErrScannerBusy = errors.New("scanner busy")
	// ErrOrderAmountMismatch: the order has a checkout for another amount.
	// Code ORDER_AMOUNT_MISMATCH.
	ErrOrderAmountMismatch = errors.New("order amount mismatch")
	// ErrOrderNeedsAttention: the order's last checkout needs attention; it
	// must be resolved before the order is charged again. Code
	// ORDER_NEEDS_ATTENTION.
	ErrOrderNeedsAttention = errors.New("order needs attention")
	// ErrInvalidState: the checkout's state forbids the action (cancelling
	// a paid checkout, ...). Code INVALID_STATE.
	ErrInvalidState = errors.New("invalid state")
	// ErrNoCheckoutAwaiting: a scan arrived while no checkout awaits one. → 409
	ErrNoCheckoutAwaiting = errors.New("no checkout is awaiting a scan")
	// ErrBadRequest: a malformed request (missing order_id, amount out of
	// range, a bad coupon, ...). → 400
	ErrBadRequest = errors.New("bad request")
	// ErrClosed: the engine is shutting down. → 503
	ErrClosed = errors.New("checkout engine closed")
)

// Error is the cashier-facing error of a checkout: a stable code (the
// gateway's sub_code when the gateway said no, e.g.
// ACQ.BUYER_BALANCE_NOT_ENOUGH, or one of posagent's codes such as
// NOT_ALIPAY_CODE) and a message the cashier can act on. It is also returned
// (wrapped together with a sentinel) by Engine methods.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// reqError is an error that is both a sentinel (for errors.Is) and an *Error
// (for errors.As), so the API can answer {"error":{code,message}}.
type reqError struct {
	sentinels []error
	e         *Error
}

func (r *reqError) Error() string { return r.e.Message }

func (r *reqError) Unwrap() []error {
	return append(r.sentinels[:len(r.sentinels):len(r.sentinels)], r.e)
}

func newReqError(sentinel error, code, format string, args ...any) error {
	return &reqError{sentinels: []error{sentinel}, e: &Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// Codes of the conflicts (HTTP 409), beside CONFLICT for the others.
const (
	CodeScannerBusy         = "SCANNER_BUSY"
	CodeOrderAmountMismatch = "ORDER_AMOUNT_MISMATCH"
	CodeOrderNeedsAttention = "ORDER_NEEDS_ATTENTION"
	CodeInvalidState        = "INVALID_STATE"
)

// conflictOf is a conflict that is both ErrConflict and sentinel.
func conflictOf(sentinel error, code, format string, args ...any) error {
	return &reqError{sentinels: []error{sentinel, ErrConflict}, e: &Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

func badRequest(format string, args ...any) error {
	return newReqError(ErrBadRequest, "BAD_REQUEST", format, args...)
}

func conflict(format string, args ...any) error {
	return newReqError(ErrConflict, "CONFLICT", format, args...)
}

func notFound(what, id string) error {
	return newReqError(ErrNotFound, "NOT_FOUND", "%s %q not found", what, id)
}

// posagent's own error codes, beside the gateway's sub_codes.
const (
	CodeNotAlipayCode      = "NOT_ALIPAY_CODE"     // the scan was not an Alipay payment code
	CodeGatewayUnavailable = "GATEWAY_UNAVAILABLE" // the decode could not reach the gateway (on_decode_unavailable = abort)
	CodeReplyUnverified    = "GATEWAY_UNVERIFIED"  // Alipay answered, but its reply failed verification: keys or certificates
	CodeAppAuthRefused     = "APP_AUTH_REFUSED"    // 20001: the app_auth_token is missing, wrong or expired
	CodeScanAgain          = "SCAN_AGAIN"          // posagent restarted while decoding; the code is gone
	CodeDecisionTimeout    = "DECISION_TIMEOUT"    // no final answer by decision_deadline; the trade was cancelled
	CodePaymentInterrupted = "PAYMENT_INTERRUPTED" // posagent restarted mid-payment and the gateway had no trade; cancelled
	CodeTradeClosed        = "TRADE_CLOSED"        // the gateway closed the trade unpaid
	CodeRequestRejected    = "REQUEST_REJECTED"    // the gateway rejected the request (40001/40002/40006) or it failed validation
	CodeCancelRefused      = "CANCEL_REFUSED"      // fallback code for needs_attention
	CodeSenceNoUnmatch     = "SENCENO_UN_MATCH"    // defect: the decode's sence_no does not match the gateway's
)

// Messages for the codes a cashier may see. Unknown sub_codes fall back to a
// generic message carrying the gateway's sub_msg.
var messages = map[string]string{
	CodeNotAlipayCode:      "This is not an Alipay payment code. Ask the customer to open the Alipay payment code.",
	CodeGatewayUnavailable: "Alipay cannot be reached right now. Try scanning again in a moment, or take another payment method.",
	CodeReplyUnverified:    "The payment system is set up wrongly (Alipay's answer could not be verified): call support and take another payment method. Nothing was charged by this step.",
	CodeAppAuthRefused:     "Alipay refused this shop's authorisation (app_auth_token): call support and take another payment method. Nothing was charged.",
	CodeScanAgain:          "The register restarted while reading the code. Please scan the customer's payment code again.",
	CodeDecisionTimeout:    "The payment was not confirmed in time and has been cancelled. Nothing was charged, or it was refunded.",
	CodePaymentInterrupted: "posagent restarted during this payment and Alipay has no record of it; it was cancelled so it cannot go through later. Nothing was charged. Ask the customer to pay again.",
	CodeTradeClosed:        "The payment was closed without being paid. Ask the customer to pay again.",
	CodeCancelRefused:      "The payment could not be confirmed or cancelled. Check it in the Alipay merchant portal before handing over the goods.",
	CodeSenceNoUnmatch:     "This code cannot be used. Ask the customer to refresh the payment code and scan again.",
	CodeScanTimeout:        "No payment code was scanned in time; the checkout was cancelled. Start the payment again.",

	// two-stage decode
	"CODE_EXPIRED":  "The payment code has expired. Ask the customer to refresh the code and scan again.",
	"ILLEGAL_CODE":  "This payment code is not valid. Ask the customer to refresh the code and scan again.",
	"INPUT_ILLEGAL": "The payment code could not be read. Ask the customer to refresh the code and scan again.",
	"DECODE_FAILED": "The payment code could not be read. Ask the customer to refresh the code and scan again.",

	// trade.pay
	"ACQ.BUYER_BALANCE_NOT_ENOUGH":               "The customer's Alipay balance is too low. Ask them to top up or choose another funding source.",
	"ACQ.BUYER_BANKCARD_BALANCE_NOT_ENOUGH":      "The customer's bank card balance is too low. Ask them to choose another card or funding source.",
	"ACQ.PAYMENT_AUTH_CODE_INVALID":              "The payment code is invalid or has expired. Ask the customer to refresh the code and scan again.",
	"ACQ.PAYMENT_FAIL":                           "Alipay declined the payment. Ask the customer to try again or pay another way.",
	"ACQ.PAYMENT_REQUEST_HAS_RISK":               "Alipay declined the payment for risk reasons. Ask the customer to pay another way.",
	"ACQ.NO_PAYMENT_INSTRUMENTS_AVAILABLE":       "The customer has no usable funding source. Ask them to add one or pay another way.",
	"ACQ.BUYER_ENABLE_STATUS_FORBID":             "The customer's Alipay account is restricted. Ask them to pay another way.",
	"ACQ.BUYER_PAYMENT_AMOUNT_DAY_LIMIT_ERROR":   "The customer has reached their daily payment limit. Ask them to pay another way.",
	"ACQ.BUYER_PAYMENT_AMOUNT_MONTH_LIMIT_ERROR": "The customer has reached their monthly payment limit. Ask them to pay another way.",
	"ACQ.ERROR_BUYER_CERTIFY_LEVEL_LIMIT":        "The customer's Alipay account must be verified before paying this amount.",
	"ACQ.BUYER_SELLER_EQUAL":                     "The buyer and the merchant are the same Alipay account.",
	"ACQ.MOBILE_PAYMENT_SWITCH_OFF":              "The customer has switched off mobile payments in Alipay. Ask them to switch it on or pay another way.",
	"ACQ.PULL_MOBILE_CASHIER_FAIL":               "Alipay could not ask the customer to confirm. Ask them to pay again.",
	"ACQ.USER_FACE_PAYMENT_SWITCH_OFF":           "The customer has switched off this payment method in Alipay. Ask them to pay another way.",
	"ACQ.TOTAL_FEE_EXCEED":                       "The amount is above what Alipay accepts for one payment.",
	"ACQ.TRADE_HAS_CLOSE":                        "This payment was already closed. Start the payment again.",
	"ACQ.CONTEXT_INCONSISTENT":                   "Alipay saw different details for this payment number. Start the payment again.",
	"ACQ.INVALID_PARAMETER":                      "Alipay rejected the payment details. Call support.",
	"ACQ.ACCESS_FORBIDDEN":                       "This shop is not allowed to take this payment. Call support.",
	"ACQ.PARTNER_ERROR":                          "The merchant's Alipay setup is wrong. Call support.",
	"ACQ.EXIST_FORBIDDEN_WORD":                   "The order title contains words Alipay does not accept. Call support.",
	"ACQ.TRADE_BUYER_NOT_MATCH":                  "This payment belongs to another customer. Start the payment again.",

	// trade.cancel refusals (needs_attention)
	"ACQ.REASON_TRADE_BEEN_FREEZEN": "Alipay froze this payment and refused to cancel it. Check it in the Alipay merchant portal before handing over the goods.",
	"ACQ.CANCEL_NOT_ALLOWED":        "Alipay does not allow cancelling this payment. Check it in the Alipay merchant portal before handing over the goods.",
	"ACQ.TRADE_CANCEL_TIME_OUT":     "The time to cancel this payment has passed. Check it in the Alipay merchant portal before handing over the goods.",
}

// errorFor is the cashier-facing Error for code; detail (the gateway's
// sub_msg, say) fills in when the code is not in the table.
func errorFor(code, detail string) *Error {
	if m, ok := messages[code]; ok {
		return &Error{Code: code, Message: m}
	}
	m := "Alipay refused the payment"
	if detail != "" {
		m += ": " + detail
	}
	return &Error{Code: code, Message: m + "."}
}

// gatewayError turns a non-success gateway result into the checkout's Error:
// the sub_code when there is one, else REQUEST_REJECTED.
func gatewayError(err error) *Error {
	if gateway.KindOf(err) == gateway.Unauthorized {
		return errorFor(CodeAppAuthRefused, "")
	}
	var ge *gateway.Error
	if errors.As(err, &ge) && ge.SubCode != "" {
		return errorFor(ge.SubCode, ge.SubMsg)
	}
	detail := "the request was rejected"
	if ge != nil {
		if ge.Code != "" {
			detail = ge.Code + " " + ge.Msg
		} else if ge.Err != nil {
			detail = ge.Err.Error()
		}
	}
	return &Error{Code: CodeRequestRejected, Message: "Alipay rejected the request (" + detail + "). Call support."}
}

func isStale(err error) bool { return errors.Is(err, errStale) }
