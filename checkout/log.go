package checkout

import (
	"github.com/rs/zerolog"
)

// ev starts a log line about checkout r: every such line carries
// checkout_id, order_id and an event name. Payment codes appear only masked
// (field "code", from r.CodeMask or gateway.MaskCode).
func (e *Engine) ev(lvl zerolog.Level, r *record, event string) *zerolog.Event {
	ev := e.log.WithLevel(lvl).Str("checkout_id", r.ID).Str("order_id", r.OrderID).Str("event", event)
	if r.State != "" {
		ev = ev.Str("state", string(r.State))
	}
	return ev
}

// logTransitionError logs a transition that did not commit: at debug level
// when the checkout had simply moved on (someone else won), at error level
// for a database failure.
func (e *Engine) logTransitionError(r *record, event string, err error) {
	if isStale(err) {
		e.ev(zerolog.DebugLevel, r, event).Msg("checkout moved on meanwhile; nothing to do")
		return
	}
	e.ev(zerolog.ErrorLevel, r, event).Err(err).Msg("could not commit the checkout's transition")
}
