package checkout

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
)

// What the flow does after the decode.
type decodeNext int

const (
	decodeStop   decodeNext = iota // the engine is closing or the checkout moved on
	decodePay                      // pay, with coupons when userID is set
	decodeRescan                   // back to awaiting_scan with err
)

type decodeResult struct {
	next   decodeNext
	userID string
	result string // Checkout.DecodeResult
	err    *Error
}

// Decode backoff while the result is unknown: 200 ms (or an eighth of a
// shorter DecodeRetryWindow), doubling, at most 1 s, for
// Options.DecodeRetryWindow in all.
const (
	decodeFirstBackoff = 200 * time.Millisecond
	decodeMaxBackoff   = time.Second
)

// decode runs the two-stage decode of code with r's sence_no (committed
// before this call), retrying an unknown result with the same sence_no for
// DecodeRetryWindow.
func (e *Engine) decode(ctx context.Context, f *flow, r *record, code string) decodeResult {
	req := gateway.TwoStageUseRequest{DynamicID: code, SenceNo: r.SenceNo, PayPID: e.opts.PayPID}
	start := e.steady.Now()
	backoff := min(decodeFirstBackoff, e.opts.DecodeRetryWindow/8)
	for attempt := 1; ; attempt++ {
		resp, err := e.gw.TwoStageUse(ctx, req)
		e.hook(StepDecodeSent)
		if ctx.Err() != nil {
			return decodeResult{next: decodeStop}
		}
		kind, sub := gateway.KindOf(err), gateway.SubCodeOf(err)
		lvl := zerolog.InfoLevel
		if kind != gateway.Success {
			lvl = zerolog.WarnLevel
		}
		ev := e.ev(lvl, r, "decode").Str("code", r.CodeMask).Str("sence_no", r.SenceNo).
			Int("attempt", attempt).Str("kind", kind.String()).Str("sub_code", sub)
		if err != nil {
			ev = ev.Err(err)
		} else {
			ev = ev.Str("user_id", resp.UserID)
		}
		ev.Msg("two-stage decode")

		switch kind {
		case gateway.Success:
			if resp.UserID == "" {
				return decodeResult{next: decodePay, result: "no_user_id"}
			}
			return decodeResult{next: decodePay, userID: resp.UserID, result: DecodeUserID}
		case gateway.Failure:
			switch sub {
			case "USER_UN_AUTH", "INDEX_NOT_EXIST":
				return decodeResult{next: decodePay, result: sub}
			case "SENCENO_UN_MATCH":
				e.ev(zerolog.ErrorLevel, r, "decode").Str("code", r.CodeMask).Str("sence_no", r.SenceNo).
					Str("sub_code", sub).Msg("DEFECT: the gateway says this sence_no does not match the code's earlier decode")
				return decodeResult{next: decodeRescan, err: errorFor(CodeSenceNoUnmatch, "")}
			case "SYSTEM_ERROR", "":
				// The gateway's own trouble: retry like an unknown result.
			default:
				// CODE_EXPIRED, ILLEGAL_CODE, INPUT_ILLEGAL, DECODE_FAILED and
				// anything new: this code cannot be used.
				return decodeResult{next: decodeRescan, err: decodeError(sub, err)}
			}
		case gateway.Rejected, gateway.Invalid, gateway.Unauthorized:
			// Not retryable: a setup problem (pay_pid, permissions, keys,
			// app_auth_token).
			e.ev(zerolog.ErrorLevel, r, "decode").Str("kind", kind.String()).Err(err).
				Msg("the gateway rejected the two-stage decode: check pay_pid and the app's permissions")
			return e.decodeUnavailable(gatewayError(err))
		}
		if errors.Is(err, gateway.ErrBadSignature) {
			// Alipay answered but the answer cannot be trusted: the key or
			// certificate is wrong, not the network. Say so at once.
			e.ev(zerolog.ErrorLevel, r, "decode").Str("kind", kind.String()).Err(err).
				Msg("the two-stage decode's reply failed verification: check alipay_public_key_file / the certificates (posagent check)")
			return e.decodeUnavailable(errorFor(CodeReplyUnverified, ""))
		}
		// Unknown (or 10003, which a decode never answers): retry with the
		// same sence_no while the window lasts.
		if e.steady.Now().Add(backoff).Sub(start) > e.opts.DecodeRetryWindow {
			return e.decodeUnavailable(errorFor(CodeGatewayUnavailable, ""))
		}
		select {
		case <-ctx.Done():
			return decodeResult{next: decodeStop}
		case <-f.wake:
			return decodeResult{next: decodeStop}
		case <-e.clk.After(backoff):
		}
		backoff = min(2*backoff, decodeMaxBackoff)
	}
}

// decodeUnavailable applies Options.OnDecodeUnavailable.
func (e *Engine) decodeUnavailable(cause *Error) decodeResult {
	if e.opts.OnDecodeUnavailable == DecodePayWithoutCoupons {
		return decodeResult{next: decodePay, result: DecodeUnavailable}
	}
	return decodeResult{next: decodeRescan, err: cause}
}

// decodeError is the cashier's error for a decode refused with sub.
func decodeError(sub string, err error) *Error {
	if m, ok := messages[sub]; ok {
		return &Error{Code: sub, Message: m}
	}
	msg := "This payment code cannot be used"
	var ge *gateway.Error
	if errors.As(err, &ge) && ge.SubMsg != "" {
		msg += " (" + ge.SubMsg + ")"
	}
	return &Error{Code: sub, Message: msg + ". Ask the customer to refresh the code and scan again."}
}

// backToAwaiting returns a decoding checkout to awaiting_scan with err, for
// the cashier to scan a fresh code.
func (e *Engine) backToAwaiting(id string, cause *Error, event string) {
	r, err := e.transition(id, func(_ *bolt.Tx, r *record, _ time.Time) error {
		if r.State != Decoding {
			return errStale
		}
		r.State, r.Error = AwaitingScan, cause
		return nil
	})
	if err != nil {
		e.logTransitionError(&r, event, err)
		return
	}
	e.hook(StepAwaitingScan)
	e.ev(zerolog.WarnLevel, &r, event).Str("error_code", cause.Code).
		Msg("back to awaiting_scan: " + cause.Message)
}
