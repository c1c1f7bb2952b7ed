package checkout

import (
	"fmt"
	"regexp"
	"time"

	"github.com/rs/zerolog"

	"posagent/clock"
	"posagent/events"
)

// Values of Options.OnDecodeUnavailable.
const (
	DecodeAbort             = "abort"
	DecodePayWithoutCoupons = "pay_without_coupons"
)

// Defaults for the zero values of Options fields.
const (
	DefaultQueryInterval     = 3 * time.Second
	DefaultDecisionDeadline  = 60 * time.Second
	DefaultDecodeRetryWindow = 5 * time.Second
	DefaultConsultTimeout    = 1500 * time.Millisecond
	DefaultSenceTTL          = 24 * time.Hour
	DefaultDrainTimeout      = 10 * time.Second
	DefaultLatePayWindow     = 5 * time.Minute
	DefaultAttentionRecheck  = time.Hour
	DefaultScanTimeout       = 5 * time.Minute
)

// Options configure an Engine. The zero value of every field but TerminalID
// and PayPID means its default.
type Options struct {
	// TerminalID is sent as terminal_id on trade.pay and starts every
	// sence_no and out_trade_no. Required: 1 to 16 of [A-Za-z0-9_].
	TerminalID string
	// StoreID is sent as store_id on trade.pay. Default "" (not sent); at
	// most 32 characters.
	StoreID string
	// PayPID is the merchant PID sent as pay_pid on the two-stage decode.
	// Required.
	PayPID string
	// Events receives every committed change of a checkout (kind
	// "checkout"). Default nil: none.
	Events *events.Broker
	// QueryInterval is the trade.query polling interval while a trade is
	// unresolved. Default 3 s.
	QueryInterval time.Duration
	// DecisionDeadline, counted from the committed pay intent (the first
	// trade.pay send): a trade still unresolved then is cancelled through a
	// durable trade_cancel job. Default 60 s; must exceed QueryInterval.
	DecisionDeadline time.Duration
	// OnDecodeUnavailable decides what happens when the decode cannot reach
	// the gateway within DecodeRetryWindow: "abort" (default: back to
	// awaiting_scan with error GATEWAY_UNAVAILABLE) or "pay_without_coupons".
	OnDecodeUnavailable string
	// DecodeRetryWindow is how long a decode whose result is unknown is
	// retried (same sence_no) before OnDecodeUnavailable applies. Default 5 s.
	DecodeRetryWindow time.Duration
	// ConsultScene, when set, makes the engine call scene.cooperation.consult
	// for every decoded user_id, beside the coupon lookup. Default "" (off).
	ConsultScene string
	// ConsultTimeout bounds the consult call; payment never waits longer.
	// Default 1.5 s.
	ConsultTimeout time.Duration
	// ReportCoupons queues a coupon_report job, in the same transaction as
	// paid, for every redeemed coupon. Default false.
	ReportCoupons bool
	// SenceTTL is how long a code's sence_no is kept for re-decodes. Default
	// 24 h.
	SenceTTL time.Duration
	// DrainTimeout bounds how long Close lets running payments finish before
	// it stops them (they resume on the next Start). Default 10 s.
	DrainTimeout time.Duration
	// LatePayWindow is how long after the last trade.pay send of a trade a
	// cancel answered ACQ.TRADE_NOT_EXIST proves nothing (the pay may still
	// land): the cancel is repeated, at least every 10 s, until the gateway
	// confirms a closed trade or the window has passed. Default 5 min.
	LatePayWindow time.Duration
	// AttentionRecheck is how often a needs_attention checkout's trade is
	// queried again (an attention_recheck job); it settles to cancelled
	// when the trade shows closed. Default 1 h.
	AttentionRecheck time.Duration
	// ScanTimeout: a checkout awaiting a scan longer than this, counted
	// from its creation (also across restarts), is cancelled with error
	// SCAN_TIMEOUT. Default 5 min.
	ScanTimeout time.Duration
	// Location is the zone of the store's day ([reconcile] timezone): the
	// day index, DailyReport and DayTrades count days in it. Default
	// Asia/Shanghai (UTC+8).
	Location *time.Location
	// Clock is the time source. Default the wall clock.
	Clock clock.Clock
	// Logger receives the checkout log (zerolog JSON). Default: no logging.
	Logger *zerolog.Logger
	// StepHook, when set, is called after every committed transition and
	// after every gateway call returns, with the step's name (see the Step
	// constants). Tests use it to crash the process at step boundaries; it
	// must not call back into the Engine. Default nil.
	StepHook func(step string)
}

// Step names passed to Options.StepHook.
const (
	StepCreated        = "created"         // checkout committed in awaiting_scan
	StepScanError      = "scan_error"      // error committed on an awaiting checkout
	StepDecodeIntent   = "decode_intent"   // scan accepted: sence_no and decoding committed
	StepDecodeSent     = "decode_sent"     // two-stage decode returned
	StepAwaitingScan   = "awaiting_scan"   // back to awaiting_scan with an error
	StepPayIntent      = "pay_intent"      // out_trade_no, amount, coupon and paying committed
	StepPaySent        = "pay_sent"        // trade.pay returned
	StepWaiting        = "waiting"         // waiting_buyer committed
	StepQuerySent      = "query_sent"      // trade.query returned
	StepPaid           = "paid"            // paid committed
	StepFailed         = "failed"          // failed committed
	StepCancelling     = "cancelling"      // cancelling and its trade_cancel job committed
	StepCancelSent     = "cancel_sent"     // trade.cancel returned
	StepCancelled      = "cancelled"       // cancelled committed
	StepNeedsAttention = "needs_attention" // needs_attention committed
	StepLastPay        = "last_pay"        // the time of a trade.pay resend committed
)

var terminalIDRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,16}$`)

func (o Options) withDefaults() (Options, error) {
	if !terminalIDRE.MatchString(o.TerminalID) {
		return o, fmt.Errorf("checkout: TerminalID %q: want 1 to 16 of [A-Za-z0-9_]", o.TerminalID)
	}
	if len(o.StoreID) > 32 {
		return o, fmt.Errorf("checkout: StoreID longer than 32 characters")
	}
	if o.PayPID == "" {
		return o, fmt.Errorf("checkout: PayPID is required")
	}
	if o.QueryInterval <= 0 {
		o.QueryInterval = DefaultQueryInterval
	}
	if o.DecisionDeadline <= 0 {
		o.DecisionDeadline = DefaultDecisionDeadline
	}
	if o.DecisionDeadline <= o.QueryInterval {
		return o, fmt.Errorf("checkout: DecisionDeadline %s must exceed QueryInterval %s", o.DecisionDeadline, o.QueryInterval)
	}
	switch o.OnDecodeUnavailable {
	case "":
		o.OnDecodeUnavailable = DecodeAbort
	case DecodeAbort, DecodePayWithoutCoupons:
	default:
		return o, fmt.Errorf("checkout: OnDecodeUnavailable %q: want %q or %q", o.OnDecodeUnavailable, DecodeAbort, DecodePayWithoutCoupons)
	}
	if o.DecodeRetryWindow <= 0 {
		o.DecodeRetryWindow = DefaultDecodeRetryWindow
	}
	if o.ConsultTimeout <= 0 {
		o.ConsultTimeout = DefaultConsultTimeout
	}
	if o.SenceTTL <= 0 {
		o.SenceTTL = DefaultSenceTTL
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.LatePayWindow <= 0 {
		o.LatePayWindow = DefaultLatePayWindow
	}
	if o.AttentionRecheck <= 0 {
		o.AttentionRecheck = DefaultAttentionRecheck
	}
	if o.ScanTimeout <= 0 {
		o.ScanTimeout = DefaultScanTimeout
	}
	o.Clock = clock.Or(o.Clock)
	if o.Logger == nil {
		nop := zerolog.Nop()
		o.Logger = &nop
	}
	return o, nil
}
