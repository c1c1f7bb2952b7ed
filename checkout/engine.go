package checkout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/clock"
	"posagent/gateway"
	"posagent/queue"
)

// Gateway is the part of the Alipay gateway client the engine calls
// (*gateway.Client implements it). Every method returns an error whose
// gateway.KindOf classifies the result; responses are filled whenever the
// gateway answered, also for 10003 and 40004.
type Gateway interface {
	TwoStageUse(ctx context.Context, req gateway.TwoStageUseRequest) (*gateway.TwoStageUseResponse, error)
	TradePay(ctx context.Context, req gateway.TradePayRequest) (*gateway.TradePayResponse, error)
	TradeQuery(ctx context.Context, req gateway.TradeQueryRequest) (*gateway.TradeQueryResponse, error)
	TradeCancel(ctx context.Context, req gateway.TradeCancelRequest) (*gateway.TradeCancelResponse, error)
	SceneConsult(ctx context.Context, req gateway.ConsultRequest) (*gateway.ConsultResponse, error)
}

// Engine runs checkouts. Create it with New, call Start once to resume what
// a previous run left unfinished, and Close it before closing the database.
// All methods may be called from any goroutine.
type Engine struct {
	db   *bolt.DB
	q    *queue.Queue
	gw   Gateway
	opts Options
	clk  clock.Clock
	// steady is clk made immune to wall steps (clock.Steady): deadlines,
	// poll schedules and windows are kept on it; clk stamps created_at and
	// updated_at.
	steady clock.Clock
	log    *zerolog.Logger
	secret []byte

	// ctx is the lifetime of every goroutine the engine owns; Close cancels
	// it after the drain.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	flows   map[string]*flow // the goroutine driving each checkout, by id
	changed chan struct{}    // closed and replaced on every commit (Wait)
	closing bool
	started bool
}

// flow is the goroutine that drives one checkout through the gateway calls.
type flow struct {
	// wake is closed when someone else moved the checkout on (Cancel), so
	// the flow stops waiting.
	wake     chan struct{}
	wakeOnce sync.Once
	done     chan struct{}
}

func (f *flow) stop() { f.wakeOnce.Do(func() { close(f.wake) }) }

// New prepares the engine's buckets in db, loads (or creates) the HMAC
// secret for payment codes, and registers the trade_cancel and
// trade_refund handlers on q.
// It must be called before q.Run. It starts nothing; see Start.
func New(db *bolt.DB, q *queue.Queue, gw Gateway, opts Options) (*Engine, error) {
	if db == nil || q == nil || gw == nil {
		return nil, errors.New("checkout: New needs a DB, a queue and a gateway")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		db: db, q: q, gw: gw, opts: o, clk: o.Clock, steady: clock.Steady(o.Clock), log: o.Logger,
		flows:   make(map[string]*flow),
		changed: make(chan struct{}),
	}
	// A View first: on every start but the first, the buckets and the
	// secret exist and New writes nothing (a commit costs two fsyncs).
	err = db.View(func(tx *bolt.Tx) error {
		e.secret = existingSecret(tx)
		return nil
	})
	if err == nil && e.secret == nil {
		err = db.Update(func(tx *bolt.Tx) error {
			if err := createBuckets(tx); err != nil {
				return err
			}
			e.secret, err = loadSecret(tx)
			return err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("checkout: open store: %w", err)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	q.Handle(queue.KindTradeCancel, e.handleCancel)
	q.Handle(queue.KindTradeRefund, e.handleRefund)
	q.Handle(KindAttentionRecheck, e.handleAttention) // attention.go
	return e, nil
}

// Start resumes every checkout a previous run left unfinished (see
// recover.go) and starts the engine's background work (the hourly purge of
// old sence_no entries). It returns once recovery is committed; the resumed
// payments continue in the background. Errors: ErrClosed, or a database
// error (the engine should then not be used).
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		return ErrClosed
	}
	if e.started {
		e.mu.Unlock()
		return errors.New("checkout: Start called twice")
	}
	e.started = true
	e.mu.Unlock()
	if err := e.recover(ctx); err != nil {
		return err
	}
	e.purge()
	e.expireScans()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.purgeLoop()
	}()
	return nil
}

// Close stops taking scans and new checkouts, lets running payments go on
// for up to Options.DrainTimeout, then stops them (what is unfinished
// resumes on the next Start) and waits for every goroutine of the engine.
// The queue and the database stay open.
func (e *Engine) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.DrainTimeout)
	defer cancel()
	return e.Shutdown(ctx)
}

// Shutdown is Close with the drain bounded by ctx instead of DrainTimeout:
// an already cancelled ctx stops running payments at once.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closing = true
	var pending []chan struct{}
	for _, f := range e.flows {
		pending = append(pending, f.done)
	}
	e.mu.Unlock()
	for _, d := range pending {
		select {
		case <-d:
		case <-ctx.Done():
		}
	}
	e.cancel()
	e.wg.Wait()
	return nil
}

// spawn starts fn as the flow of checkout id unless one runs already or
// the engine is closing. It reports whether it started.
func (e *Engine) spawn(id string, fn func(ctx context.Context, f *flow)) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing || e.flows[id] != nil {
		return false
	}
	f := &flow{wake: make(chan struct{}), done: make(chan struct{})}
	e.flows[id] = f
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() {
			e.release(id, f)
			close(f.done)
		}()
		fn(e.ctx, f)
	}()
	return true
}

// release ends f's hold on checkout id, so that spawn may start the next
// flow of id. A flow that hands its checkout back to awaiting_scan calls it
// before that commit: a rescan can come the instant the commit is done, and
// its flow must not be refused because this one has not returned yet.
func (e *Engine) release(id string, f *flow) {
	e.mu.Lock()
	if e.flows[id] == f {
		delete(e.flows, id)
	}
	e.mu.Unlock()
}

// wakeFlow tells the flow of id, if any, that its checkout moved on.
func (e *Engine) wakeFlow(id string) {
	e.mu.Lock()
	f := e.flows[id]
	e.mu.Unlock()
	if f != nil {
		f.stop()
	}
}

func (e *Engine) isClosing() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closing
}

// broadcast wakes the waiters of Wait and publishes c, as committed, to
// the change feed (Options.Events).
func (e *Engine) broadcast(c Checkout) {
	e.opts.Events.Publish("checkout", c)
	e.mu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

func (e *Engine) hook(step string) {
	if e.opts.StepHook != nil {
		e.opts.StepHook(step)
	}
}

// errStale is returned by a transition function when the checkout is no
// longer in a state the caller may move it from: someone else moved it on.
var errStale = errors.New("checkout moved on")

// transition loads checkout id, lets fn change it, and commits the change in
// one transaction (fn may write more in tx: coupons, jobs). UpdatedAt is set
// to now. On errStale nothing is written and the current record is
// returned with errStale.
func (e *Engine) transition(id string, fn func(tx *bolt.Tx, r *record, now time.Time) error) (record, error) {
	var r record
	now := e.clk.Now()
	err := e.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = getRecord(tx, id); err != nil {
			return err
		}
		old := r.State
		if err := fn(tx, &r, now); err != nil {
			return err
		}
		r.UpdatedAt = now
		return e.putRecord(tx, &r, old)
	})
	if err != nil {
		if errors.Is(err, errStale) {
			if cur, gerr := e.get(id); gerr == nil {
				r = cur
			}
		}
		return r, err
	}
	e.broadcast(r.Checkout)
	return r, nil
}

func (e *Engine) get(id string) (record, error) {
	var r record
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getRecord(tx, id)
		return err
	})
	return r, err
}

// Get returns checkout id. Errors: ErrNotFound.
func (e *Engine) Get(id string) (Checkout, error) {
	r, err := e.get(id)
	return r.Checkout, err
}

// Defaults and bounds of List.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// ListFilter selects checkouts for List.
type ListFilter struct {
	// State, when set, keeps only checkouts in that state.
	State State
	// Limit caps the number returned. Default 50, at most 500.
	Limit int
	// Before, when set, keeps only checkouts created before the checkout
	// with this id (paging: pass the last id of the previous page).
	Before string
	// OrderID, when set, keeps only the checkouts of that order.
	OrderID string
}

// List returns checkouts newest first. Errors: ErrBadRequest for an unknown
// state; a database error.
func (e *Engine) List(f ListFilter) ([]Checkout, error) {
	if f.State != "" && !f.State.Valid() {
		return nil, badRequest("unknown state %q", f.State)
	}
	if f.Before != "" && !cursorRE.MatchString(f.Before) {
		return nil, badRequest("before must be a checkout id such as co_000000000042_x7Qa, not %q", f.Before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	out := []Checkout{}
	err := e.db.View(func(tx *bolt.Tx) error {
		var ids []string
		if f.OrderID != "" {
			for _, id := range idsOfOrder(tx, f.OrderID) {
				if len(ids) == limit {
					break
				}
				if f.Before != "" && id >= f.Before {
					continue
				}
				if f.State != "" {
					if r, err := getRecord(tx, id); err != nil || r.State != f.State {
						continue
					}
				}
				ids = append(ids, id)
			}
		} else if f.State == "" {
			c := tx.Bucket(bucketRecords).Cursor()
			k, _ := c.Last()
			if f.Before != "" {
				k, _ = c.Seek([]byte(f.Before))
				if k == nil {
					k, _ = c.Last()
				}
				for k != nil && string(k) >= f.Before {
					k, _ = c.Prev()
				}
			}
			for ; k != nil && len(ids) < limit; k, _ = c.Prev() {
				ids = append(ids, string(k))
			}
		} else {
			ids = newestInState(tx, f.State, f.Before, limit)
		}
		for _, id := range ids {
			r, err := getRecord(tx, id)
			if err != nil {
				return err
			}
			out = append(out, r.Checkout)
		}
		return nil
	})
	return out, err
}

// CountByState returns how many checkouts are in each state (states with
// none are absent), for GET /v1/status and the heartbeat log line. The
// counts are kept in the transactions that move checkouts, so this reads a
// handful of keys however many checkouts there are.
func (e *Engine) CountByState() (map[State]int, error) {
	var n map[State]int
	err := e.db.View(func(tx *bolt.Tx) error {
		n = readCounts(tx)
		return nil
	})
	return n, err
}

// Wait returns checkout id once it is in a terminal state, or its current
// state when ctx ends first (with a nil error: the API answers 200 with
// what it has). Errors: ErrNotFound.
func (e *Engine) Wait(ctx context.Context, id string) (Checkout, error) {
	return e.WaitChange(ctx, id, time.Time{})
}

// purgeLoop purges old sence_no entries every hour (Start purged once) and
// cancels checkouts awaiting a scan past ScanTimeout (timeout.go), looking
// every tenth of ScanTimeout, at most every 30 s.
func (e *Engine) purgeLoop() {
	every := min(e.opts.ScanTimeout/10, 30*time.Second)
	last := e.steady.Now()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.clk.After(every):
		}
		e.expireScans()
		if now := e.steady.Now(); now.Sub(last) >= time.Hour {
			last = now
			e.purge()
		}
	}
}

func (e *Engine) purge() {
	n, err := e.purgeSence(e.clk.Now())
	if err != nil {
		e.log.Error().Str("event", "sence_purge").Err(err).Msg("purging old sence_no entries failed")
	} else if n > 0 {
		e.log.Info().Str("event", "sence_purge").Int("purged", n).Msg("purged old sence_no entries")
	}
}
