package checkout

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
)

// Scan hands a scanned Alipay payment code to the checkout awaiting a scan.
// It returns once the scan is journaled: the code's sence_no (reused when
// the code was decoded before) and the state decoding are committed; the
// decode and the payment then go on in the background (follow them with Get
// or Wait). The code itself is kept only in memory.
//
// Errors: ErrNoCheckoutAwaiting (logged as scan_rejected); ErrBadRequest
// for a code that is not an Alipay payment code (the awaiting checkout then
// shows NOT_ALIPAY_CODE); ErrClosed; a database error.
func (e *Engine) Scan(ctx context.Context, code string) (Checkout, error) {
	masked := gateway.MaskCode(code)
	if !gateway.IsPaymentCode(code) {
		c, err := e.RejectScan(masked, CodeNotAlipayCode, messages[CodeNotAlipayCode])
		if err != nil {
			return c, err
		}
		return c, newReqError(ErrBadRequest, CodeNotAlipayCode, "scan %s is not an Alipay payment code", masked)
	}
	if e.isClosing() {
		return Checkout{}, ErrClosed
	}
	var r record
	var reused, expired bool
	now := e.clk.Now()
	err := e.db.Update(func(tx *bolt.Tx) error {
		expired = false
		holder, held, err := scanSlotHolder(tx)
		if err != nil {
			return err
		}
		if held && e.scanExpired(&holder) {
			// A scan never pays an order nobody scanned for in time.
			r, expired = holder, true
			setScanTimeout(&r, now)
			return e.putRecord(tx, &r, AwaitingScan)
		}
		if !held || holder.State != AwaitingScan {
			return errNoneAwaiting(holder, held)
		}
		r = holder
		if reused, err = e.beginDecode(tx, &r, code, now); err != nil {
			return err
		}
		return e.putRecord(tx, &r, AwaitingScan)
	})
	if err != nil {
		if errors.Is(err, ErrNoCheckoutAwaiting) {
			e.log.Warn().Str("event", "scan_rejected").Str("code", masked).
				Str("reason", "no checkout awaiting a scan").Msg("scan rejected: no checkout is awaiting a scan")
		}
		return Checkout{}, err
	}
	if expired {
		e.broadcast(r.Checkout)
		e.scanTimedOut(&r)
		e.log.Warn().Str("event", "scan_rejected").Str("code", masked).
			Str("reason", "no checkout awaiting a scan").Msg("scan rejected: the checkout awaiting it timed out")
		return Checkout{}, errNoneAwaiting(record{}, false)
	}
	e.broadcast(r.Checkout)
	e.scanAccepted(&r, code, reused)
	return r.Checkout, nil
}

// beginDecode moves r to decoding for code inside tx: the decode intent,
// with the code's sence_no stored before the decode is sent.
func (e *Engine) beginDecode(tx *bolt.Tx, r *record, code string, now time.Time) (reused bool, err error) {
	sence, reused, err := e.senceFor(tx, code, now)
	if err != nil {
		return false, err
	}
	r.State = Decoding
	r.SenceNo = sence
	r.CodeMask = gateway.MaskCode(code)
	r.Error = nil
	r.UserID, r.DecodeResult, r.ConsultResult = "", "", nil
	r.UpdatedAt = now
	return reused, nil
}

// scanAccepted runs after the decode intent committed: log, hook, and start
// the flow that decodes and pays.
func (e *Engine) scanAccepted(r *record, code string, reused bool) {
	e.hook(StepDecodeIntent)
	e.ev(zerolog.InfoLevel, r, "scan_accepted").Str("code", r.CodeMask).
		Str("sence_no", r.SenceNo).Bool("sence_reused", reused).Msg("scan accepted")
	id := r.ID
	if !e.spawn(id, func(ctx context.Context, f *flow) { e.runFlow(ctx, f, id, code) }) {
		// Closing (or, impossibly, a flow already runs): the checkout stays
		// in decoding and the next Start sends it back to awaiting_scan.
		e.ev(zerolog.WarnLevel, r, "scan_accepted").Msg("engine closing: the scan will have to be repeated")
	}
}

// RejectScan reports a scan that cannot pay (not an Alipay code, as the
// scanner classified it) on the checkout awaiting a scan: it stays in
// awaiting_scan with error {code, message}, which the next good scan clears.
// masked is the scan as it may be logged (gateway.MaskCode).
//
// Errors: ErrNoCheckoutAwaiting (the scan is only logged); a database error.
func (e *Engine) RejectScan(masked, code, message string) (Checkout, error) {
	if code == "" {
		code = CodeNotAlipayCode
	}
	if message == "" {
		message = errorFor(code, "").Message
	}
	var r record
	now := e.clk.Now()
	err := e.db.Update(func(tx *bolt.Tx) error {
		holder, held, err := scanSlotHolder(tx)
		if err != nil {
			return err
		}
		if !held || holder.State != AwaitingScan {
			return errNoneAwaiting(holder, held)
		}
		r = holder
		r.Error = &Error{Code: code, Message: message}
		r.UpdatedAt = now
		return e.putRecord(tx, &r, AwaitingScan)
	})
	if err != nil {
		if errors.Is(err, ErrNoCheckoutAwaiting) {
			e.log.Warn().Str("event", "scan_rejected").Str("code", masked).Str("error_code", code).
				Str("reason", "no checkout awaiting a scan").Msg("scan rejected: " + message)
		}
		return Checkout{}, err
	}
	e.broadcast(r.Checkout)
	e.hook(StepScanError)
	e.ev(zerolog.WarnLevel, &r, "scan_rejected").Str("code", masked).Str("error_code", code).
		Msg("scan rejected: " + message)
	return r.Checkout, nil
}

// errNoneAwaiting is the error of a scan that no checkout awaits; holder is
// the checkout decoding the previous scan, if any.
func errNoneAwaiting(holder record, held bool) error {
	if held {
		return newReqError(ErrNoCheckoutAwaiting, "NO_CHECKOUT_AWAITING", "checkout %s is still reading the previous scan", holder.ID)
	}
	return newReqError(ErrNoCheckoutAwaiting, "NO_CHECKOUT_AWAITING", "no checkout is awaiting a scan")
}
