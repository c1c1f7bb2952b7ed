package queue

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"

	"posagent/clock"
	"posagent/events"
)

// Defaults for the zero values of Options fields.
const (
	DefaultMaxAge        = 72 * time.Hour
	DefaultBaseBackoff   = time.Second
	DefaultMaxBackoff    = 5 * time.Minute
	DefaultConcurrency   = 4
	DefaultProbeInterval = 5 * time.Second
	DefaultJobTimeout    = 2 * time.Minute
	// MaxProbeInterval is the contract's bound: an unreachable gateway is
	// probed at least every 10 s.
	MaxProbeInterval = 10 * time.Second
)

// Options configure a Queue. The zero value of every field means its
// default.
type Options struct {
	// Clock is the time source. Every schedule decision (next run,
	// backoff, age, overdue) and every time the queue stores is read from
	// clock.Steady(Clock), so a wall-clock step while the process runs
	// moves none of them. Default the wall clock (clock.Real).
	Clock clock.Clock
	// Logger receives one line per job outcome and per remote state change
	// (field "event"). Default: no logging.
	Logger *zerolog.Logger
	// Events receives every committed change of a job (kind "job"): a new
	// job, an attempt's outcome, a retry by hand. Default nil: none.
	Events *events.Broker
	// MaxAge: a job whose latest attempt failed once it is this old (since
	// creation, or since a person last retried it) is dead-lettered —
	// unless it moves money (MovesMoney): then it is overdue and keeps
	// running every MaxBackoff. Age is elapsed time, measured
	// monotonically while the process runs. Default 72 h ([queue]
	// max_age).
	MaxAge time.Duration
	// BaseBackoff is the delay after the first failed attempt; it doubles
	// per attempt, with jitter (see Backoff). Default 1 s.
	BaseBackoff time.Duration
	// MaxBackoff caps the delay between attempts. Default 5 min.
	MaxBackoff time.Duration
	// Concurrency is how many handlers run at once, all kinds together.
	// Default 4.
	Concurrency int
	// Gateway tells the queue whether the Alipay gateway can be reached:
	// the daemon passes a *probe.Probe whose Check is a signed harmless
	// call (probe.GatewayCheck). A job that finds the gateway unreachable
	// reports it there (Unreachable); while it is offline the gateway's
	// jobs wait, and they start the moment it is back (Changed). A job's
	// answer, whatever it is, never makes the gateway offline. When nil,
	// each job that finds the gateway unreachable just waits ProbeInterval
	// and tries again, not counted.
	Gateway Prober
	// Report is Gateway for RemoteReport, the merchant backend at
	// [coupons] report_url (a *probe.Probe with probe.HTTPCheck).
	Report Prober
	// ProbeInterval is how long a job that found its remote unreachable is
	// held back before it may run again (not counted), so a remote that
	// keeps failing costs one call per job per interval. Default 5 s; at
	// most MaxProbeInterval (10 s).
	ProbeInterval time.Duration
	// JobTimeout bounds one handler call (its ctx deadline). Default 2 min.
	JobTimeout time.Duration
	// Rand returns a number in [0, 1) for the backoff jitter; it is called
	// from several goroutines. Default math/rand/v2.Float64.
	Rand func() float64
}

func (o Options) withDefaults() (Options, error) {
	o.Clock = clock.Or(o.Clock)
	if o.Logger == nil {
		nop := zerolog.Nop()
		o.Logger = &nop
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.MaxAge, DefaultMaxAge)
	def(&o.BaseBackoff, DefaultBaseBackoff)
	def(&o.MaxBackoff, DefaultMaxBackoff)
	def(&o.ProbeInterval, DefaultProbeInterval)
	def(&o.JobTimeout, DefaultJobTimeout)
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	switch {
	case o.MaxAge < 0, o.BaseBackoff < 0, o.MaxBackoff < 0, o.ProbeInterval < 0, o.JobTimeout < 0:
		return o, fmt.Errorf("queue: negative duration in options")
	case o.BaseBackoff > o.MaxBackoff:
		return o, fmt.Errorf("queue: BaseBackoff %s exceeds MaxBackoff %s", o.BaseBackoff, o.MaxBackoff)
	case o.ProbeInterval > MaxProbeInterval:
		return o, fmt.Errorf("queue: ProbeInterval %s exceeds %s", o.ProbeInterval, MaxProbeInterval)
	case o.Concurrency < 0:
		return o, fmt.Errorf("queue: Concurrency %d is negative", o.Concurrency)
	}
	return o, nil
}
