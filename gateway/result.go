package gateway

import (
	"errors"
	"fmt"
)

// Kind is the one classification of a call's result that callers branch on.
type Kind int

const (
	// Success: code 10000.
	Success Kind = iota
	// InProgress: code 10003, e.g. the buyer must enter a password; poll
	// trade.query.
	InProgress
	// Unknown: code 20000, a timeout, a connection error, or a body that
	// could not be parsed or verified. The request may or may not have taken
	// effect; query before deciding anything.
	Unknown
	// Failure: code 40004, a definite business failure with a sub_code. The
	// request took no effect.
	Failure
	// Rejected: other gateway errors (40001 missing parameter, 40002 invalid
	// parameter or signature, 40006 insufficient permissions). The request
	// took no effect; retrying the same request will not help.
	Rejected
	// Invalid: the request failed local validation and was never sent.
	Invalid
	// Unauthorized: code 20001 (aop.invalid-app-auth-token,
	// aop.app-auth-token-time-out, …): the merchant's app_auth_token is
	// missing, wrong or expired. The request took no effect; retrying
	// will not help until the token is fixed. Never a network failure.
	Unauthorized
)

// ErrUnauthorized is the Err of an Unauthorized result.
var ErrUnauthorized = errors.New("app_auth_token refused (20001): the merchant must authorise the app again, or [alipay] app_auth_token is wrong")

func (k Kind) String() string {
	switch k {
	case Success:
		return "success"
	case InProgress:
		return "in_progress"
	case Unknown:
		return "unknown"
	case Failure:
		return "failure"
	case Rejected:
		return "rejected"
	case Invalid:
		return "invalid"
	case Unauthorized:
		return "unauthorized"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is every non-success result of a call. Code/Msg/SubCode/SubMsg are
// the gateway's when it answered; Err is the underlying cause otherwise
// (transport error, ErrBadSignature, ErrBadReply, a ValidationError).
//
// Unverified marks a reply that failed verification (or came unsigned):
// its Code/Msg/SubCode/SubMsg are what the reply claims, kept for a person
// to diagnose, Err wraps ErrBadSignature, and Kind is Unknown whatever the
// claimed code, so no money decision rests on it.
type Error struct {
	Method     string
	Kind       Kind
	Code       string
	Msg        string
	SubCode    string
	SubMsg     string
	Unverified bool
	Err        error
}

func (e *Error) Error() string {
	if e.Unverified {
		s := fmt.Sprintf("%s: %s: %v", e.Method, e.Kind, e.Err)
		if e.Code != "" {
			s += fmt.Sprintf(" (reply claims %s %s", e.Code, e.Msg)
			if e.SubCode != "" {
				s += fmt.Sprintf(", %s: %s", e.SubCode, e.SubMsg)
			}
			s += ", unverified)"
		}
		return s
	}
	if e.Code != "" {
		s := fmt.Sprintf("%s: %s %s", e.Method, e.Code, e.Msg)
		if e.SubCode != "" {
			s += fmt.Sprintf(" (%s: %s)", e.SubCode, e.SubMsg)
		}
		return s
	}
	return fmt.Sprintf("%s: %s: %v", e.Method, e.Kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf classifies err as returned by a Client call: nil is Success, an
// *Error carries its Kind, and anything else (a context error from the
// caller, say) is Unknown, because the request may have been sent.
func KindOf(err error) Kind {
	if err == nil {
		return Success
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Unknown
}

// SubCodeOf returns the gateway's sub_code carried by err, or "" (also for
// an Unverified reply: what it claims is for people, not for branching).
func SubCodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) && !e.Unverified {
		return e.SubCode
	}
	return ""
}

// kindOfCode maps a gateway "code" to a Kind.
func kindOfCode(code string) Kind {
	switch code {
	case "10000":
		return Success
	case "10003":
		return InProgress
	case "40004":
		return Failure
	case "40001", "40002", "40006":
		return Rejected
	case "20001":
		return Unauthorized
	}
	// 20000 (service unavailable) and anything unexpected: the effect is
	// not known.
	return Unknown
}

// ValidationError names the request field that failed validation.
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }
