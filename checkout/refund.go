package checkout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
	"posagent/queue"
)

// Refunds (SPEC §11) follow the payment's own pattern: the intent — the
// out_request_no and the amount, with the trade_refund job that sends it —
// is committed in one transaction before anything is sent (Refund); the job
// sends alipay.trade.refund and settles an unknown answer with the refund
// query, resending the same out_request_no until the gateway answers
// (refund_job.go); the outcome commits in one transaction with the
// checkout's refunded_amount. The gateway is idempotent on out_request_no,
// so a kill -9 at any instant never refunds twice, and the sum check in the
// intent's transaction never lets the refunds of a checkout exceed what it
// paid.

// RefundGateway is the part of the gateway client that refunds
// (*gateway.Client implements it). The engine's Gateway must implement it
// for Refund to work; one that does not makes Refund answer ErrConflict.
type RefundGateway interface {
	TradeRefund(ctx context.Context, req gateway.TradeRefundRequest) (*gateway.TradeRefundResponse, error)
	TradeRefundQuery(ctx context.Context, req gateway.TradeRefundQueryRequest) (*gateway.TradeRefundQueryResponse, error)
}

var _ RefundGateway = (*gateway.Client)(nil)

// RefundState is where a refund is: pending until the gateway answered,
// then refunded or failed.
type RefundState string

// The refund states. Refunded and failed are final.
const (
	RefundPending  RefundState = "pending"  // committed; the trade_refund job runs until the gateway answers
	RefundRefunded RefundState = "refunded" // the gateway refunded it
	RefundFailed   RefundState = "failed"   // the gateway refused it; nothing went back
)

// RefundStates lists every refund state.
var RefundStates = []RefundState{RefundPending, RefundRefunded, RefundFailed}

// Valid reports whether s is one of RefundStates.
func (s RefundState) Valid() bool {
	for _, x := range RefundStates {
		if s == x {
			return true
		}
	}
	return false
}

// Refund is one refund of a paid checkout, as the local API shows it (SPEC
// §11). Money is fen, written as "5.00"; times are RFC 3339.
type Refund struct {
	// ID is posagent's id of the refund, rf_<sequence>_<random>.
	ID         string `json:"id"`
	CheckoutID string `json:"checkout_id"`
	// RefundID is the register's idempotency key (the ID when it sent none).
	RefundID string `json:"refund_id"`
	// OutRequestNo is sent with every trade.refund of this refund:
	// <terminal_id>_R<the id's sequence and random tail>.
	OutRequestNo string         `json:"out_request_no"`
	Amount       gateway.Amount `json:"amount"`
	Reason       string         `json:"reason"`
	State        RefundState    `json:"state"`
	// Error is set on a failed refund: the gateway's sub_code and a
	// message for the cashier.
	Error     *Error    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`

	// Extensions to SPEC §11.

	OrderID    string `json:"order_id"`
	OutTradeNo string `json:"out_trade_no"`
	// RefundedAt is when the refund was committed as refunded.
	RefundedAt time.Time `json:"refunded_at,omitzero"`
}

// RefundRequest asks for a refund of a paid checkout.
type RefundRequest struct {
	// Amount goes back to the buyer. Required, 0.01 up to what is left of
	// the checkout's paid_amount.
	Amount gateway.Amount
	// Reason is shown to the buyer. Optional, at most 256 characters.
	Reason string
	// RefundID is the register's idempotency key: the same one again
	// returns the same refund. Optional (the refund's id is used), 1 to 64
	// printable ASCII characters, unique across all refunds.
	RefundID string
}

// ErrRefundExceedsPaid: the refunds of the checkout (pending and
// refunded) would add up to more than its paid_amount. It wraps
// ErrConflict too (→ 409); code REFUND_EXCEEDS_PAID.
var ErrRefundExceedsPaid = errors.New("refunds exceed the paid amount")

// CodeRefundExceedsPaid is the code of ErrRefundExceedsPaid.
const CodeRefundExceedsPaid = "REFUND_EXCEEDS_PAID"

// Step names passed to Options.StepHook by refunds.
const (
	StepRefundIntent    = "refund_intent"     // out_request_no, amount and the trade_refund job committed
	StepRefundSent      = "refund_sent"       // trade.refund returned
	StepRefundQuerySent = "refund_query_sent" // trade.fastpay.refund.query returned
	StepRefunded        = "refunded"          // refunded committed, with the checkout's refunded_amount
	StepRefundFailed    = "refund_failed"     // failed committed
)

// bucketRefunds holds every refund and its indexes, keyed by a one-letter
// prefix and a NUL:
//
//	r\x00 id                     → Refund JSON
//	c\x00 checkout id \x00 id    → (empty): the refunds of a checkout
//	k\x00 refund_id              → id: the register's idempotency keys
//	d\x00 YYYY-MM-DD \x00 id     → (empty): refunds by the day created (Asia/Shanghai)
//	f\x00 refunded_at (UTC) \x00 id → (empty): refunded refunds by when, for the
//	                              store day's takings (DayRefunds)
//	z\x00 checkout id           → the resolution of a needs_attention checkout (resolve.go)
//
// Its sequence numbers the refunds.
var bucketRefunds = []byte("checkout_refunds")

func refundKey(parts ...string) []byte {
	return []byte(strings.Join(parts, "\x00"))
}

// refundDay is the day a refund is listed under by GET /v1/refunds?date=:
// the day it was created, in Asia/Shanghai (the gateway's and the bill's
// day).
func refundDay(t time.Time) string { return t.In(gateway.Shanghai).Format(time.DateOnly) }

// newRefundID makes a refund id from the refunds bucket's sequence number.
func newRefundID(seq uint64) string {
	return fmt.Sprintf("rf_%012d_%s", seq, randomToken(4))
}

// outRequestNoOf derives the out_request_no of refund id on terminalID:
// at most 16+2+12+1+4 = 35 characters of [A-Za-z0-9_], unique as the id is.
func outRequestNoOf(terminalID, id string) string {
	return terminalID + "_R" + strings.TrimPrefix(id, "rf_")
}

func getRefund(tx *bolt.Tx, id string) (Refund, bool, error) {
	return getRefundsEntry[Refund](tx, "r", id, "refund "+id+": corrupt record")
}

// getRefundsEntry reads the JSON value under prefix and id in the refunds
// bucket; found is false when there is none. what names a corrupt value.
func getRefundsEntry[T any](tx *bolt.Tx, prefix, id, what string) (v T, found bool, err error) {
	b := tx.Bucket(bucketRefunds)
	if b == nil {
		return v, false, nil
	}
	raw := b.Get(refundKey(prefix, id))
	if raw == nil {
		return v, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, fmt.Errorf("%s: %w", what, err)
	}
	return v, true, nil
}

func putRefund(tx *bolt.Tx, rf *Refund) error {
	v, err := json.Marshal(rf)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRefunds).Put(refundKey("r", rf.ID), v)
}

// refundsOf returns the refunds of checkout id, oldest first.
func refundsOf(tx *bolt.Tx, id string) ([]Refund, error) {
	b := tx.Bucket(bucketRefunds)
	if b == nil {
		return nil, nil
	}
	prefix := refundKey("c", id, "")
	var out []Refund
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		rf, found, err := getRefund(tx, string(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, rf)
		}
	}
	return out, nil
}

// refundsBucket returns the refunds bucket in a write transaction, creating
// it in a database from before refunds.
func refundsBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	return tx.CreateBucketIfNotExists(bucketRefunds)
}

// refundPayload is the payload of a trade_refund job; its key is the
// out_request_no.
type refundPayload struct {
	RefundID     string `json:"refund_id"` // posagent's id of the refund
	CheckoutID   string `json:"checkout_id"`
	OutRequestNo string `json:"out_request_no"`
}

func (req *RefundRequest) validate() error {
	if req.Amount < 1 || req.Amount > gateway.MaxAmount {
		return newReqError(ErrBadRequest, "BAD_AMOUNT", "the refund amount must be between 0.01 and %s", gateway.MaxAmount)
	}
	if utf8.RuneCountInString(req.Reason) > 256 {
		return badRequest("reason: at most 256 characters")
	}
	if req.RefundID != "" && (len(req.RefundID) > 64 || !printable(req.RefundID)) {
		return badRequest("refund_id %q: want 1 to 64 printable ASCII characters", req.RefundID)
	}
	return nil
}

// Refund commits the intent to refund req.Amount of checkout id: the refund
// in pending, its out_request_no, and the trade_refund job that sends it,
// in one transaction, after checking in that same transaction that the
// checkout is paid and that its refunds (pending and refunded) stay within
// its paid_amount. The job runs at once; use WaitRefund to wait for its
// outcome. created is false when req.RefundID names an existing refund,
// which is returned as it is. Errors: ErrNotFound (no such checkout);
// ErrBadRequest (amount, reason, refund_id); ErrInvalidState (the
// checkout is not paid); ErrRefundExceedsPaid; ErrConflict (code
// CONFLICT: refund_id used for another checkout or amount, or a gateway
// without refunds; the two before wrap it too); ErrClosed; a database
// error.
func (e *Engine) Refund(ctx context.Context, id string, req RefundRequest) (rf Refund, created bool, err error) {
	if err := req.validate(); err != nil {
		return Refund{}, false, err
	}
	if e.isClosing() {
		return Refund{}, false, ErrClosed
	}
	if _, ok := e.gw.(RefundGateway); !ok {
		return Refund{}, false, conflict("this gateway client cannot refund")
	}
	return e.refundIntent(id, req, []State{Paid})
}

// refundIntent is Refund's transaction; states are the checkout states
// that take the refund.
func (e *Engine) refundIntent(id string, req RefundRequest, states []State) (Refund, bool, error) {
	var (
		rf      Refund
		r       record
		created bool
		job     queue.Job
	)
	now := e.clk.Now()
	err := e.db.Update(func(tx *bolt.Tx) error {
		created = false
		var err error
		if r, err = getRecord(tx, id); err != nil {
			return err
		}
		b, err := refundsBucket(tx)
		if err != nil {
			return err
		}
		if req.RefundID != "" {
			if v := b.Get(refundKey("k", req.RefundID)); v != nil {
				old, found, err := getRefund(tx, string(v))
				if err != nil {
					return err
				}
				if found {
					if old.CheckoutID != id || old.Amount != req.Amount {
						return conflict("refund_id %q was already used for a refund of %s on checkout %s", req.RefundID, old.Amount, old.CheckoutID)
					}
					rf = old
					return nil
				}
			}
		}
		ok := false
		for _, s := range states {
			ok = ok || r.State == s
		}
		if !ok {
			return conflictOf(ErrInvalidState, CodeInvalidState, "checkout %s is %s; only a paid checkout can be refunded", id, r.State)
		}
		rf, job, err = e.addRefundTx(tx, &r, req, now)
		created = err == nil
		return err
	})
	if err != nil {
		return Refund{}, false, err
	}
	if !created {
		return rf, false, nil
	}
	e.refundCommitted(&r, rf, job)
	return rf, true, nil
}

// addRefundTx commits, in tx, a new pending refund of req.Amount of
// checkout r with its out_request_no, its indexes and its trade_refund
// job, after checking that the refunds of r (pending and refunded) stay
// within its paid_amount. The caller has checked r's state.
func (e *Engine) addRefundTx(tx *bolt.Tx, r *record, req RefundRequest, now time.Time) (Refund, queue.Job, error) {
	b, err := refundsBucket(tx)
	if err != nil {
		return Refund{}, queue.Job{}, err
	}
	rfs, err := refundsOf(tx, r.ID)
	if err != nil {
		return Refund{}, queue.Job{}, err
	}
	var committed gateway.Amount
	for _, x := range rfs {
		if x.State != RefundFailed {
			committed += x.Amount
		}
	}
	if left := r.PaidAmount - committed; req.Amount > left {
		return Refund{}, queue.Job{}, conflictOf(ErrRefundExceedsPaid, CodeRefundExceedsPaid,
			"refund of %s refused: checkout %s paid %s, of which %s is refunded or being refunded; at most %s is left",
			req.Amount, r.ID, r.PaidAmount, committed, max(left, 0))
	}
	seq, err := b.NextSequence()
	if err != nil {
		return Refund{}, queue.Job{}, err
	}
	rid := newRefundID(seq)
	rf := Refund{
		ID: rid, CheckoutID: r.ID, RefundID: req.RefundID, OutRequestNo: outRequestNoOf(e.opts.TerminalID, rid),
		Amount: req.Amount, Reason: req.Reason, State: RefundPending, CreatedAt: now, UpdatedAt: now,
		OrderID: r.OrderID, OutTradeNo: r.OutTradeNo,
	}
	if rf.RefundID == "" {
		rf.RefundID = rid
	}
	if err := putRefund(tx, &rf); err != nil {
		return Refund{}, queue.Job{}, err
	}
	for _, kv := range [][2][]byte{
		{refundKey("c", r.ID, rid), nil},
		{refundKey("k", rf.RefundID), []byte(rid)},
		{refundKey("d", refundDay(now), rid), nil},
	} {
		if err := b.Put(kv[0], kv[1]); err != nil {
			return Refund{}, queue.Job{}, err
		}
	}
	job, _, err := e.q.EnqueueTx(tx, queue.KindTradeRefund, rf.OutRequestNo,
		refundPayload{RefundID: rid, CheckoutID: r.ID, OutRequestNo: rf.OutRequestNo})
	if err != nil {
		return Refund{}, queue.Job{}, fmt.Errorf("queue trade_refund: %w", err)
	}
	return rf, job, nil
}

// refundCommitted publishes and logs a refund intent once committed.
func (e *Engine) refundCommitted(r *record, rf Refund, job queue.Job) {
	e.refundChanged(rf)
	e.hook(StepRefundIntent)
	e.ev(zerolog.InfoLevel, r, "refund_requested").Str("refund", rf.ID).Str("refund_id", rf.RefundID).
		Str("out_trade_no", rf.OutTradeNo).Str("out_request_no", rf.OutRequestNo).Str("amount", rf.Amount.String()).
		Str("paid_amount", r.PaidAmount.String()).Uint64("job_id", job.ID).Msg("refund committed; trade.refund queued")
}

// refundChanged publishes rf, as committed, to the change feed (kind
// "refund") and wakes the waiters of WaitRefund.
func (e *Engine) refundChanged(rf Refund) {
	e.opts.Events.Publish("refund", rf)
	e.mu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

// GetRefund returns one refund by its id. Errors: ErrNotFound.
func (e *Engine) GetRefund(id string) (Refund, error) {
	var rf Refund
	err := e.db.View(func(tx *bolt.Tx) error {
		var found bool
		var err error
		rf, found, err = getRefund(tx, id)
		if err == nil && !found {
			err = notFound("refund", id)
		}
		return err
	})
	return rf, err
}

// WaitRefund returns refund id once it is refunded or failed, or as it is
// when ctx ends first (with a nil error). Errors: ErrNotFound.
func (e *Engine) WaitRefund(ctx context.Context, id string) (Refund, error) {
	for {
		e.mu.Lock()
		ch := e.changed
		e.mu.Unlock()
		rf, err := e.GetRefund(id)
		if err != nil || rf.State != RefundPending {
			return rf, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return rf, nil
		}
	}
}

// RefundsOf returns the refunds of checkout id, oldest first. Errors:
// ErrNotFound (no such checkout).
func (e *Engine) RefundsOf(id string) ([]Refund, error) {
	out := []Refund{}
	err := e.db.View(func(tx *bolt.Tx) error {
		if _, err := getRecord(tx, id); err != nil {
			return err
		}
		rfs, err := refundsOf(tx, id)
		out = append(out, rfs...)
		return err
	})
	return out, err
}

// RefundFilter selects refunds for ListRefunds.
type RefundFilter struct {
	// State, when set, keeps only refunds in that state.
	State RefundState
	// Date (YYYY-MM-DD), when set, keeps only the refunds created that day
	// in Asia/Shanghai.
	Date string
	// Limit caps the number returned. Default 50, at most 500.
	Limit int
}

// ListRefunds returns refunds newest first. Errors: ErrBadRequest (unknown
// state, malformed date); a database error.
func (e *Engine) ListRefunds(f RefundFilter) ([]Refund, error) {
	if f.State != "" && !f.State.Valid() {
		return nil, badRequest("unknown refund state %q", f.State)
	}
	if f.Date != "" {
		if _, err := time.Parse(time.DateOnly, f.Date); err != nil {
			return nil, badRequest("date must be YYYY-MM-DD, not %q", f.Date)
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	out := []Refund{}
	err := e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefunds)
		if b == nil {
			return nil
		}
		// Walk the records (or the day's index) from the newest.
		prefix := refundKey("r", "")
		if f.Date != "" {
			prefix = refundKey("d", f.Date, "")
		}
		end := append(bytes.Clone(prefix[:len(prefix)-1]), 1)
		c := b.Cursor()
		k, _ := c.Seek(end)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = c.Prev() {
			rf, found, err := getRefund(tx, string(k[len(prefix):]))
			if err != nil {
				return err
			}
			if found && (f.State == "" || rf.State == f.State) {
				out = append(out, rf)
			}
		}
		return nil
	})
	return out, err
}

func init() { dayRefunds = refundsRefundedOn }

// refundedStamp is the key part of the "f" index: t in UTC with a fixed
// width, so that the keys sort as the instants do.
func refundedStamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// refundsRefundedOn returns the refunds that reached refunded on store
// day day (Options.Location), from the "f" index: the instants of the
// day's start and end in the store's zone bound a range of its keys, so a
// change of zone needs no rebuild. A refund pruned since is skipped.
func refundsRefundedOn(e *Engine, tx *bolt.Tx, day string) ([]DayRefund, error) {
	b := tx.Bucket(bucketRefunds)
	if b == nil {
		return nil, nil
	}
	start, err := time.ParseInLocation(time.DateOnly, day, e.location())
	if err != nil {
		return nil, badRequest("date must be YYYY-MM-DD, not %q", day)
	}
	from, to := refundKey("f", refundedStamp(start)), refundKey("f", refundedStamp(start.AddDate(0, 0, 1)))
	var out []DayRefund
	c := b.Cursor()
	for k, _ := c.Seek(from); k != nil && bytes.Compare(k, to) < 0; k, _ = c.Next() {
		id := string(k[bytes.LastIndexByte(k, 0)+1:])
		rf, found, err := getRefund(tx, id)
		if err != nil {
			return nil, err
		}
		if !found || rf.State != RefundRefunded {
			continue
		}
		var op string
		if r, err := getRecord(tx, rf.CheckoutID); err == nil {
			op = r.OperatorID
		}
		out = append(out, DayRefund{
			RefundID: rf.ID, CheckoutID: rf.CheckoutID, OperatorID: op,
			OutTradeNo: rf.OutTradeNo, OutRequestNo: rf.OutRequestNo, Amount: rf.Amount,
		})
	}
	return out, nil
}
