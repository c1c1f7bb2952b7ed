package api

import (
	"context"
	"errors"
	"net/http"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/queue"
)

// Error codes of the API itself, beside the checkout engine's codes
// (NOT_ALIPAY_CODE, CONFLICT, …) and the gateway's sub_codes.
const (
	CodeUnauthorized       = "UNAUTHORIZED"
	CodeBadAmount          = "BAD_AMOUNT"
	CodeBadRequest         = "BAD_REQUEST"
	CodeNotFound           = "NOT_FOUND"
	CodeConflict           = "CONFLICT"
	CodeGatewayUnavailable = "GATEWAY_UNAVAILABLE"
	CodeGatewayRejected    = "GATEWAY_REJECTED"
	// CodeGatewayUnauthorized: 20001, the app_auth_token is missing,
	// wrong or expired (service providers).
	CodeGatewayUnauthorized = "GATEWAY_UNAUTHORIZED"
	// CodeGatewayUnverified: Alipay answered but its reply failed
	// verification — a key or certificate problem, not an outage.
	CodeGatewayUnverified = "GATEWAY_UNVERIFIED"
	CodeAwardFailed       = "AWARD_FAILED"
	CodeShuttingDown      = "SHUTTING_DOWN"
	CodeInternal          = "INTERNAL"
)

// fail writes the error reply for err and logs what the caller cannot act
// on (internal errors) at error level.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := s.toError(err)
	if e.Status >= 500 && e.Status != http.StatusServiceUnavailable {
		s.log.Error().Str("event", "api_error").Str("method", r.Method).Str("path", r.URL.Path).
			Err(err).Msg("API request failed")
	}
	writeError(w, e)
}

// toError maps an error of the engines to the reply: the sentinel decides
// the status, a *checkout.Error (when there is one) the code and message.
func (s *Server) toError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var ce *checkout.Error
	withCode := func(status int, code string) *Error {
		if errors.As(err, &ce) {
			return &Error{Status: status, Code: ce.Code, Message: ce.Message}
		}
		return &Error{Status: status, Code: code, Message: err.Error()}
	}
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		return withCode(http.StatusNotFound, CodeNotFound)
	case errors.Is(err, checkout.ErrConflict), errors.Is(err, checkout.ErrNoCheckoutAwaiting):
		return withCode(http.StatusConflict, CodeConflict)
	case errors.Is(err, checkout.ErrBadRequest):
		return withCode(http.StatusBadRequest, CodeBadRequest)
	case errors.Is(err, checkout.ErrClosed):
		return errorf(http.StatusServiceUnavailable, CodeShuttingDown, "posagent is shutting down; try again when it is back")
	case errors.Is(err, queue.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, queue.ErrProtected):
		return &Error{Status: http.StatusConflict, Code: "JOB_PROTECTED", Message: err.Error()}
	case errors.Is(err, queue.ErrState):
		return &Error{Status: http.StatusConflict, Code: "JOB_STATE", Message: err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusServiceUnavailable, "UNAVAILABLE", "the request was cut short: %v", err)
	}
	return errorf(http.StatusInternalServerError, CodeInternal, "internal error; see the posagent log")
}

// gatewayError maps the result of a user-API call: a request that failed
// validation → 400; a business failure (40004) → 422 with the sub_code and
// an English message (the gateway's sub_msg, often Chinese, in sub_msg); a
// rejected request (40001/40002/40006) → 422; an unknown result or an
// unreachable gateway → 503 GATEWAY_UNAVAILABLE.
func gatewayError(err error) *Error {
	var ge *gateway.Error
	errors.As(err, &ge)
	switch gateway.KindOf(err) {
	case gateway.Invalid:
		msg := err.Error()
		var ve *gateway.ValidationError
		if errors.As(err, &ve) {
			msg = ve.Error()
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: msg}
	case gateway.Failure:
		e := &Error{Status: http.StatusUnprocessableEntity, Code: CodeGatewayRejected, Message: "Alipay refused the request."}
		if ge != nil {
			if ge.SubCode != "" {
				e.Code = ge.SubCode
			}
			e.Message, e.SubMsg = userAPIMessage(ge.SubCode, "Alipay refused the request"), ge.SubMsg
		}
		return e
	case gateway.Rejected:
		e := &Error{Status: http.StatusUnprocessableEntity, Code: CodeGatewayRejected, Message: "Alipay rejected the request."}
		if ge != nil {
			if ge.SubCode != "" {
				e.Code = ge.SubCode
			}
			e.SubMsg = ge.SubMsg
			e.Message = "Alipay rejected the request (" + ge.Code + " " + ge.Msg + "); check the app_id, the keys and the app's permissions."
			if m, ok := userAPIMessages[ge.SubCode]; ok {
				e.Message = m
			}
		}
		return e
	case gateway.Unauthorized:
		e := &Error{Status: http.StatusUnprocessableEntity, Code: CodeGatewayUnauthorized,
			Message: "Alipay refused the merchant's authorisation (app_auth_token): the payment system needs support; posagent check names the problem."}
		if ge != nil && ge.SubCode != "" {
			e.Code, e.SubMsg = ge.SubCode, ge.SubMsg
		}
		return e
	}
	if ge != nil && ge.Unverified {
		// Alipay answered, but the answer cannot be trusted: a key or
		// certificate problem, not an outage.
		return &Error{Status: http.StatusBadGateway, Code: CodeGatewayUnverified,
			Message: "Alipay's answer could not be verified (" + ge.Code + " " + ge.SubCode + "): the Alipay public key or certificate in the configuration is probably wrong; the payment system needs support (posagent check)."}
	}
	msg := "Alipay could not be reached or gave no clear answer; try again later"
	if ge != nil && ge.Err != nil {
		msg += " (" + ge.Err.Error() + ")"
	} else if ge != nil && ge.Code != "" {
		msg += " (" + ge.Code + " " + ge.Msg + ")"
	}
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeGatewayUnavailable, Message: msg}
}
