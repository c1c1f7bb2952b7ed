package queue

import (
	"encoding/json"
	"fmt"
	"time"
)

// Job kinds posagent runs. The trade kinds are registered by package
// checkout; coupon_report and award_receive have handlers here
// (NewCouponReportHandler, NewAwardHandler).
const (
	KindTradeCancel    = "trade_cancel"
	KindTradeReconcile = "trade_reconcile"
	KindCouponReport   = "coupon_report"
	KindAwardReceive   = "award_receive"
	// KindTradeRefund resends or queries an alipay.trade.refund (SPEC §11).
	KindTradeRefund = "trade_refund"
	// KindReconcile settles the day's takings against the gateway (SPEC §12).
	KindReconcile = "reconcile"
	// KindAttentionRecheck re-queries a needs_attention trade until it
	// shows closed or paid (SPEC §4); registered by package checkout.
	KindAttentionRecheck = "attention_recheck"
)

// MovesMoney reports whether jobs of kind move money back or settle a
// trade: trade_cancel, trade_refund, reconcile and attention_recheck. Such
// a job is never
// dead-lettered: past MaxAge it is overdue — it keeps running every
// MaxBackoff, is logged at error level once an hour (job_overdue) and
// counted in Stats.Overdue — until its handler succeeds or fails for good.
func MovesMoney(kind string) bool {
	switch kind {
	case KindTradeCancel, KindTradeRefund, KindReconcile, KindAttentionRecheck:
		return true
	}
	return false
}

// moneyKinds are the kinds MovesMoney holds for, sorted.
var moneyKinds = []string{KindAttentionRecheck, KindReconcile, KindTradeCancel, KindTradeRefund}

// Job states.
const (
	// StatePending: waiting for its next run, or running.
	StatePending = "pending"
	// StateDone: the handler succeeded; Result holds what it returned.
	StateDone = "done"
	// StateFailed: the handler returned Permanent; never retried unless a
	// person calls Retry.
	StateFailed = "failed"
	// StateDead: dead-lettered, its latest attempt failed after MaxAge; never
	// retried unless a person calls Retry.
	StateDead = "dead"
)

// Job is one unit of durable work, as stored and as shown by the local API.
type Job struct {
	// ID is assigned at enqueue from the jobs bucket's sequence; later jobs
	// have larger IDs.
	ID uint64 `json:"id"`
	// Kind selects the handler, e.g. KindTradeCancel.
	Kind string `json:"kind"`
	// Key is the idempotency key, unique per kind, and sent to the remote
	// side (out_trade_no, out_biz_no, Idempotency-Key).
	Key string `json:"key"`
	// Payload is the handler's input, JSON.
	Payload json.RawMessage `json:"payload,omitempty"`
	// State is StatePending, StateDone, StateFailed or StateDead.
	State string `json:"state"`
	// Attempts counts the attempts that reached the remote side (or failed
	// in the handler); attempts made while the remote was unreachable are
	// not counted.
	Attempts int `json:"attempts"`
	// NextRun is when a pending job runs next; for other states, when it was
	// last scheduled. For a job in backoff, NextRun − UpdatedAt is the delay
	// chosen after its failed attempt: a restart caps a NextRun that the
	// wall clock, set back while the daemon was down, moved further away.
	NextRun time.Time `json:"next_run"`
	// LastError is the error of the latest failed attempt ("" once done).
	LastError string `json:"last_error,omitempty"`
	// Result is what the handler returned on success, JSON.
	Result json.RawMessage `json:"result,omitempty"`
	// CreatedAt is when the job was enqueued.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when the job record last changed.
	UpdatedAt time.Time `json:"updated_at"`
	// RetriedAt is when a person last called Retry on the job (zero if
	// never). MaxAge counts from the later of CreatedAt and RetriedAt, so a
	// job retried by hand gets a full MaxAge again.
	//
	// Every time here is read from the queue's steady clock (the wall
	// time when the queue opened plus the monotonic time since), so a
	// wall-clock step while the daemon runs moves no schedule.
	RetriedAt time.Time `json:"retried_at,omitzero"`
}

// ageBase is the instant MaxAge counts from.
func (j *Job) ageBase() time.Time {
	if j.RetriedAt.After(j.CreatedAt) {
		return j.RetriedAt
	}
	return j.CreatedAt
}

// Filter selects jobs for List.
type Filter struct {
	// State, when set, keeps only jobs in that state.
	State string
	// Kind, when set, keeps only jobs of that kind.
	Kind string
	// Before, when non-zero, keeps only jobs with ID < Before (paging: pass
	// the smallest ID of the previous page).
	Before uint64
	// Limit caps the number of jobs returned. Default 100, at most 1000.
	Limit int
}

// List limits.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Input limits checked at enqueue.
const (
	MaxKindLen     = 64
	MaxKeyLen      = 512
	MaxPayloadSize = 1 << 20
)

// validKind reports whether kind is 1..MaxKindLen bytes of [A-Za-z0-9_.-].
// The due index uses a NUL byte after the kind, so a kind must not contain
// one; the narrow alphabet also keeps kinds readable in logs.
func validKind(kind string) error {
	if kind == "" || len(kind) > MaxKindLen {
		return fmt.Errorf("queue: kind %q: must be 1..%d characters", kind, MaxKindLen)
	}
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("queue: kind %q: only [A-Za-z0-9_.-] allowed", kind)
		}
	}
	return nil
}

func validKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("queue: key %q: must be 1..%d bytes", key, MaxKeyLen)
	}
	return nil
}

// encodePayload turns an Enqueue payload into JSON. json.RawMessage and
// []byte are taken as JSON already (and must be valid); nil is no payload.
func encodePayload(payload any) (json.RawMessage, error) {
	var b []byte
	switch p := payload.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		b = p
	case []byte:
		b = p
	default:
		var err error
		if b, err = json.Marshal(payload); err != nil {
			return nil, fmt.Errorf("queue: payload: %w", err)
		}
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("queue: payload is not valid JSON")
	}
	if len(b) > MaxPayloadSize {
		return nil, fmt.Errorf("queue: payload of %d bytes exceeds %d", len(b), MaxPayloadSize)
	}
	return append(json.RawMessage(nil), b...), nil
}
