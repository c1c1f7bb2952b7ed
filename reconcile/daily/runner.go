// Package daily runs posagent's reconciliations (SPEC §12): it takes a
// store day's trades and refunds from the checkout journal, Alipay's bill
// of that day (package reconcile), compares them, stores the result in
// bbolt and logs it. It owns the reconcile job of the durable queue and
// the daily schedule that enqueues it ([reconcile] at).
package daily

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/checkout"
	"posagent/clock"
	"posagent/gateway"
	"posagent/queue"
	"posagent/reconcile"
)

// Defaults of Options.
const (
	// DefaultUnavailableRetry is how long a day whose bill is not ready
	// (isp.bill_not_exist) waits before the job asks again.
	DefaultUnavailableRetry = time.Hour
	// DefaultEmptyDayGrace is how long after a day's end a day without any
	// trade or refund in the journal keeps waiting for its bill: Alipay
	// has no bill for a day without business, so after this the
	// unavailable result is final and the job ends (a day with trades
	// waits for its bill for ever, and turns overdue after [queue]
	// max_age).
	DefaultEmptyDayGrace = 48 * time.Hour
	// DefaultRunTimeout bounds one reconciliation run from the queue: the
	// bill query, the download and the parse.
	DefaultRunTimeout = 3 * time.Minute
)

// Journal is what the runner needs of the checkout engine
// (*checkout.Engine implements it).
type Journal interface {
	// DayTrades returns the trades of the checkouts that ended on the store
	// day and the refunds that reached refunded that day. Errors:
	// checkout.ErrBadRequest, a database error.
	DayTrades(day string) ([]checkout.DayTrade, []checkout.DayRefund, error)
}

var _ Journal = (*checkout.Engine)(nil)

// BillFunc returns the rows of day's bill that belong to this terminal.
// Errors as reconcile.DayBill: reconcile.ErrBillNotExist, unreachability
// (gateway.IsUnreachable), others.
type BillFunc func(ctx context.Context, day string) ([]reconcile.Row, error)

// Options configure a Runner. DB, Queue, Journal and one of Bills or
// Gateway are required; the zero value of every other field means its
// default.
type Options struct {
	// DB holds the results (bucket reconcile_results). Required.
	DB *bolt.DB
	// Queue runs the reconcile jobs (kind queue.KindReconcile, key the
	// day). New registers the handler: call it before Queue.Run. Required.
	Queue *queue.Queue
	// Journal gives the day's trades and refunds. Required.
	Journal Journal
	// Bills reads a day's bill. Default: reconcile.DayBill with Gateway,
	// Prefix and MaxBillBytes.
	Bills BillFunc
	// Gateway is the Alipay client the default Bills uses.
	Gateway *gateway.Client
	// Prefix keeps the bill rows whose out_trade_no starts with it: this
	// terminal's, terminal_id + "_". Default "": every row.
	Prefix string
	// MaxBillBytes caps the bill download. Default
	// reconcile.DefaultMaxBillBytes.
	MaxBillBytes int64
	// Location is the zone of the store's day ([reconcile] timezone), for
	// the schedule. Default Asia/Shanghai.
	Location *time.Location
	// At is the time of day ("15:04" in Location) at which the previous
	// day is reconciled ([reconcile] at). Default "": no schedule.
	At string
	// UnavailableRetry: see DefaultUnavailableRetry. Default 1 h.
	UnavailableRetry time.Duration
	// EmptyDayGrace: see DefaultEmptyDayGrace. Default 48 h.
	EmptyDayGrace time.Duration
	// RunTimeout: see DefaultRunTimeout. Default 3 min.
	RunTimeout time.Duration
	// Clock is the time source: checked_at and the schedule. Default the
	// wall clock.
	Clock clock.Clock
	// Logger receives reconcile_matched (info), reconcile_mismatch (error),
	// reconcile_unavailable (warn) and reconcile_failed (warn) lines.
	// Default: no logging.
	Logger *zerolog.Logger
}

// Runner reconciles days. Create it with New; Start runs the daily
// schedule, Close stops it. All methods may be called from any goroutine.
type Runner struct {
	opts    Options
	clk     clock.Clock
	log     *zerolog.Logger
	at      *time.Duration // offset of At in the day; nil: no schedule
	runMu   sync.Mutex     // one run at a time: the job and a request may meet
	mu      sync.Mutex
	last    *reconcile.Result
	cancel  context.CancelFunc
	done    chan struct{}
	started bool
	closed  bool
}

// ParseAt reads a [reconcile] at value: "HH:MM" (24 h), or "" for none.
// It returns the offset into the day.
func ParseAt(s string) (time.Duration, bool, error) {
	if s == "" {
		return 0, false, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, false, fmt.Errorf("%q is not a time of day such as \"10:00\" (24-hour HH:MM), or \"\" for off", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, true, nil
}

// New checks opts, prepares the results bucket, loads the last result and
// registers the reconcile job handler on opts.Queue.
func New(opts Options) (*Runner, error) {
	if opts.DB == nil || opts.Queue == nil || opts.Journal == nil {
		return nil, errors.New("daily: New needs a DB, a queue and a journal")
	}
	if opts.Bills == nil {
		if opts.Gateway == nil {
			return nil, errors.New("daily: New needs Bills or a Gateway")
		}
		gw, o, maxBytes := opts.Gateway, reconcile.Options{Prefix: opts.Prefix}, opts.MaxBillBytes
		opts.Bills = func(ctx context.Context, day string) ([]reconcile.Row, error) {
			return reconcile.DayBill(ctx, gw, day, o, maxBytes)
		}
	}
	if opts.Location == nil {
		opts.Location = gateway.Shanghai
	}
	if opts.UnavailableRetry <= 0 {
		opts.UnavailableRetry = DefaultUnavailableRetry
	}
	if opts.EmptyDayGrace <= 0 {
		opts.EmptyDayGrace = DefaultEmptyDayGrace
	}
	if opts.RunTimeout <= 0 {
		opts.RunTimeout = DefaultRunTimeout
	}
	r := &Runner{opts: opts, clk: clock.Or(opts.Clock), log: opts.Logger}
	if r.log == nil {
		nop := zerolog.Nop()
		r.log = &nop
	}
	off, on, err := ParseAt(opts.At)
	if err != nil {
		return nil, fmt.Errorf("daily: At: %w", err)
	}
	if on {
		r.at = &off
	}
	last, err := openStore(opts.DB)
	if err != nil {
		return nil, err
	}
	r.last = last
	opts.Queue.Handle(queue.KindReconcile, r.handle)
	return r, nil
}

// errUnavailable is what a run whose bill is not ready returns.
var errUnavailable = errors.New("the bill of that day is not available yet (isp.bill_not_exist)")

// handle is the reconcile job: one run for the day in the job's key.
func (r *Runner) handle(ctx context.Context, job queue.Job) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.RunTimeout)
	defer cancel()
	res, err := r.run(ctx, job.Key)
	switch {
	case errors.Is(err, errUnavailable):
		return nil, queue.Retry(err, r.opts.UnavailableRetry)
	case errors.Is(err, checkout.ErrBadRequest):
		return nil, queue.Permanent(err) // not a day: no retry can fix it
	case err != nil:
		return nil, err // unreachable: the queue waits for the gateway; else backoff
	}
	return summary(res), nil
}

// summary is what a done job keeps as its result.
func summary(res reconcile.Result) map[string]any {
	return map[string]any{"date": res.Date, "state": res.State, "mismatches": Mismatches(res)}
}

// Mismatches counts what differs in res.
func Mismatches(res reconcile.Result) int {
	return len(res.MissingLocally) + len(res.MissingInBill) + len(res.AmountMismatch) + len(res.Refunds.Mismatched)
}

// Reconcile reconciles day now and returns the stored result. When the
// bill is not ready the result is unavailable; when the gateway cannot be
// reached (or the run fails otherwise) the result is the stored one, or
// pending if there is none, and queued is true: the reconcile job of the
// day will run it. In both cases the job is queued (an existing job of
// the day is made to run now). A day without trades or refunds whose bill
// still does not exist EmptyDayGrace after its end is unavailable for
// good: queued is false. Errors: checkout.ErrBadRequest for a bad day; a
// database error.
func (r *Runner) Reconcile(ctx context.Context, day string) (res reconcile.Result, queued bool, err error) {
	res, err = r.run(ctx, day)
	if err == nil {
		return res, false, nil
	}
	if errors.Is(err, checkout.ErrBadRequest) || isDBError(err) {
		return res, false, err
	}
	willRun, qerr := r.enqueue(day, true)
	if qerr != nil {
		return res, false, qerr
	}
	if errors.Is(err, errUnavailable) {
		return res, willRun, nil
	}
	if !willRun {
		// The day's job is done (an earlier run succeeded) and cannot run
		// again: say why this run failed.
		return res, false, err
	}
	stored, ok, serr := r.Result(day)
	if serr != nil {
		return res, false, serr
	}
	if !ok {
		stored = pending(day)
	}
	return stored, true, nil
}

// dbError marks a failure of the store, which the caller cannot retry.
type dbError struct{ err error }

func (e *dbError) Error() string { return e.err.Error() }
func (e *dbError) Unwrap() error { return e.err }

func isDBError(err error) bool {
	var d *dbError
	return errors.As(err, &d)
}

func pending(day string) reconcile.Result {
	p := reconcile.Unavailable(day)
	p.State = reconcile.StatePending
	return p
}

// enqueue queues the reconcile job of day; now makes a job that exists
// and waits (an unavailable day), failed or was dead-lettered run at
// once. willRun is false when the day's job is done: a job runs once.
func (r *Runner) enqueue(day string, now bool) (willRun bool, err error) {
	j, existed, err := r.opts.Queue.Enqueue(queue.KindReconcile, day, map[string]string{"date": day})
	if err != nil {
		return false, fmt.Errorf("queue the reconciliation of %s: %w", day, err)
	}
	switch {
	case !existed:
		return true, nil
	case j.State == queue.StateDone:
		return false, nil
	case !now:
		return j.State == queue.StatePending, nil
	}
	if err := r.opts.Queue.Retry(j.ID); err != nil {
		if errors.Is(err, queue.ErrState) {
			return false, nil // done meanwhile
		}
		return false, err
	}
	return true, nil
}

// run reconciles day once and stores the result (unavailable when the
// bill is not ready: errUnavailable). On any other failure nothing is
// stored but a pending result when the day has none yet.
func (r *Runner) run(ctx context.Context, day string) (reconcile.Result, error) {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	trades, refunds, err := r.opts.Journal.DayTrades(day)
	if err != nil {
		if errors.Is(err, checkout.ErrBadRequest) {
			return reconcile.Result{}, err
		}
		return reconcile.Result{}, &dbError{fmt.Errorf("read the journal of %s: %w", day, err)}
	}
	rows, err := r.opts.Bills(ctx, day)
	now := r.clk.Now()
	if errors.Is(err, reconcile.ErrBillNotExist) {
		res := reconcile.Unavailable(day)
		res.CheckedAt = now
		if err := r.store(res); err != nil {
			return res, err
		}
		if len(trades) == 0 && len(refunds) == 0 && r.pastGrace(day, now) {
			// Nothing to reconcile and no bill: final, no retry.
			r.log.Info().Str("event", "reconcile_unavailable").Str("date", day).Bool("final", true).
				Msg("no trades that day and Alipay has no bill for it: nothing to reconcile")
			return res, nil
		}
		r.log.Warn().Str("event", "reconcile_unavailable").Str("date", day).Bool("final", false).
			Msg("Alipay has no bill for this day yet; the reconciliation is tried again later")
		return res, errUnavailable
	}
	if err != nil {
		r.log.Warn().Str("event", "reconcile_failed").Str("date", day).Bool("unreachable", gateway.IsUnreachable(err)).
			Err(err).Msg("could not read Alipay's bill; the reconciliation is tried again")
		if _, ok, serr := r.Result(day); serr == nil && !ok {
			p := pending(day)
			p.CheckedAt = now
			if serr := r.store(p); serr != nil {
				return p, serr
			}
		}
		return reconcile.Result{}, fmt.Errorf("reconcile %s: %w", day, err)
	}
	lt := make([]reconcile.Trade, 0, len(trades))
	for _, t := range trades {
		lt = append(lt, reconcile.Trade{CheckoutID: t.CheckoutID, OutTradeNo: t.OutTradeNo, Amount: t.Amount, Cancelled: t.Cancelled})
	}
	lr := make([]reconcile.Refund, 0, len(refunds))
	for _, f := range refunds {
		lr = append(lr, reconcile.Refund{RefundID: f.RefundID, CheckoutID: f.CheckoutID, OutTradeNo: f.OutTradeNo, OutRequestNo: f.OutRequestNo, Amount: f.Amount})
	}
	res := reconcile.Compare(day, rows, lt, lr)
	res.CheckedAt = now
	if err := r.store(res); err != nil {
		return res, err
	}
	if res.State == reconcile.StateMismatched {
		ev := r.log.Error().Str("event", "reconcile_mismatch").Str("date", day).Int("mismatches", Mismatches(res)).
			Int("missing_locally", len(res.MissingLocally)).Int("missing_in_bill", len(res.MissingInBill)).
			Int("amount_mismatch", len(res.AmountMismatch)).Int("refund_mismatch", len(res.Refunds.Mismatched)).
			Strs("missing_in_bill_ids", res.MissingInBill)
		var ids []string
		for _, m := range res.AmountMismatch {
			ids = append(ids, m.CheckoutID)
		}
		var outs []string
		for _, row := range res.MissingLocally {
			outs = append(outs, row.OutTradeNo)
		}
		ev.Strs("amount_mismatch_ids", ids).Strs("missing_locally_out_trade_nos", outs).
			Msg("Alipay's bill and posagent's journal disagree for this day; see GET /v1/reconciliations/" + day)
	} else {
		r.log.Info().Str("event", "reconcile_matched").Str("date", day).Int("count", res.Matched.Count).
			Str("amount", res.Matched.Amount.String()).Int("refunds", res.Refunds.Matched.Count).
			Msg("the day matches Alipay's bill")
	}
	return res, nil
}

// pastGrace reports whether now is EmptyDayGrace past the end of day.
func (r *Runner) pastGrace(day string, now time.Time) bool {
	t, err := time.ParseInLocation(time.DateOnly, day, r.opts.Location)
	if err != nil {
		return false
	}
	return now.After(t.AddDate(0, 0, 1).Add(r.opts.EmptyDayGrace))
}

// Last returns the most recently stored result of any day (false when no
// day was ever reconciled).
func (r *Runner) Last() (reconcile.Result, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		return reconcile.Result{}, false
	}
	return *r.last, true
}

// Collector returns the runner's metric: posagent_reconcile_mismatches, a
// gauge of the differences in the result stored last (0 before any).
func (r *Runner) Collector() prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "posagent_reconcile_mismatches",
		Help: "Differences between Alipay's bill and the journal in the last reconciliation (0 when it matched, or none ran).",
	}, func() float64 {
		res, ok := r.Last()
		if !ok {
			return 0
		}
		return float64(Mismatches(res))
	})
}
