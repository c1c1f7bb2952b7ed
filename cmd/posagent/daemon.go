package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/checkout"
	"posagent/events"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/probe"
	"posagent/queue"
	"posagent/reconcile/daily"
	"posagent/scanner"
)

// dbLockTimeout is how long run waits for the bbolt file lock before it
// concludes that another posagent holds the data folder.
const dbLockTimeout = 2 * time.Second

// drainTimeout bounds the shutdown after the first signal: payments in
// flight get this long to reach a final state; whatever is left resumes on
// the next start from the journal.
const drainTimeout = 10 * time.Second

// daemon is one running posagent: the components of SPEC §1 wired together.
// It holds no checkout or protocol logic of its own.
type daemon struct {
	cfg    Config
	stderr io.Writer
	logs   *logSink
	log    zerolog.Logger

	db        *bolt.DB
	sandbox   *sandbox.Sandbox // nil unless gateway = "sandbox"
	gw        *gateway.Client
	queue     *queue.Queue
	events    *events.Broker   // the change feed of GET /v1/events
	gwMetrics *gateway.Metrics // gateway call latency, for GET /metrics
	probes    []*probe.Probe   // the gateway's, then the report backend's (if any)
	engine    *checkout.Engine
	reconcile *daily.Runner // reconciliations and their daily schedule
	scanner   *scanner.Scanner
	http      *http.Server
	started   time.Time
}

// lockedError is returned when another process holds the database: a
// config-level problem (two daemons on one data_dir), exit status 2.
type lockedError struct{ path string }

func (e *lockedError) Error() string {
	return fmt.Sprintf("%s is locked: another posagent is already running on this data_dir (stop it, or give this one its own data_dir)", e.path)
}

// openDaemon builds every component from cfg. Nothing runs yet; on error,
// whatever was opened is closed again.
func openDaemon(cfg Config, logs *logSink, stderr io.Writer) (_ *daemon, err error) {
	d := &daemon{cfg: cfg, stderr: stderr, logs: logs, log: logs.Logger, started: time.Now()}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if err := os.MkdirAll(cfg.Terminal.DataDir, 0o750); err != nil {
		return nil, dataDirError(cfg, cfg.Terminal.DataDir, err)
	}
	dbPath := filepath.Join(cfg.Terminal.DataDir, "posagent.db")
	d.db, err = bolt.Open(dbPath, 0o600, &bolt.Options{Timeout: dbLockTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, &lockedError{path: dbPath}
	}
	if err != nil {
		return nil, dataDirError(cfg, dbPath, err)
	}
	if err := d.openGateway(); err != nil {
		return nil, err
	}
	cfg = d.cfg // the sandbox fills in its pay_pid
	qlog := d.log.With().Str("component", "queue").Logger()
	d.events = events.New(events.Options{})
	qopts := queue.Options{Logger: &qlog, MaxAge: cfg.Queue.MaxAge.Duration(), Events: d.events}
	// Whether a remote is reachable comes from its probe, never from a
	// job's answer (SPEC §5).
	gwProbe, err := probe.New(probe.Options{Name: queue.RemoteGateway, Check: probe.GatewayCheck(d.gw),
		Timeout: cfg.Alipay.Timeout.Duration(), Logger: &qlog})
	if err != nil {
		return nil, err
	}
	d.probes, qopts.Gateway = append(d.probes, gwProbe), gwProbe
	d.gwMetrics = gateway.NewMetrics()
	d.gw.Observe = func(method string, err error, took time.Duration) {
		d.gwMetrics.Observe(method, err, took)
		// Real calls teach the probe too: no answer takes the gateway
		// offline at once; any answer brings it back.
		switch {
		case gateway.IsUnreachable(err):
			gwProbe.Unreachable(err)
		case gateway.KindOf(err) != gateway.Invalid: // Invalid: never sent
			gwProbe.Reachable()
		}
	}
	if cfg.Coupons.ReportURL != "" {
		rp, err := probe.New(probe.Options{Name: queue.RemoteReport, Check: probe.HTTPCheck(cfg.Coupons.ReportURL, nil), Logger: &qlog})
		if err != nil {
			return nil, err
		}
		d.probes, qopts.Report = append(d.probes, rp), rp
	}
	d.queue, err = queue.Open(d.db, qopts)
	if err != nil {
		return nil, err
	}
	d.queue.Handle(queue.KindAwardReceive, queue.NewAwardHandler(d.gw))
	if cfg.Coupons.ReportURL != "" {
		d.queue.Handle(queue.KindCouponReport, queue.NewCouponReportHandler(cfg.Coupons.ReportURL, nil))
	}
	loc, err := cfg.Reconcile.Location() // validated: the zone database is embedded
	if err != nil {
		return nil, &ConfigError{File: cfg.File, Key: "reconcile.timezone", Msg: err.Error(), Err: err}
	}
	clog := d.log.With().Str("component", "checkout").Logger()
	d.engine, err = checkout.New(d.db, d.queue, d.gw, checkout.Options{
		TerminalID:          cfg.Terminal.TerminalID,
		StoreID:             cfg.Terminal.StoreID,
		PayPID:              cfg.Alipay.PayPID,
		QueryInterval:       cfg.Checkout.QueryInterval.Duration(),
		DecisionDeadline:    cfg.Checkout.DecisionDeadline.Duration(),
		OnDecodeUnavailable: cfg.Checkout.OnDecodeUnavailable,
		LatePayWindow:       cfg.Checkout.LatePayWindow.Duration(),
		AttentionRecheck:    cfg.Checkout.AttentionRecheck.Duration(),
		ScanTimeout:         cfg.Checkout.ScanTimeout.Duration(),
		ConsultScene:        cfg.Marketing.ConsultScene,
		ReportCoupons:       cfg.Coupons.ReportURL != "",
		DrainTimeout:        drainTimeout,
		Logger:              &clog,
		Events:              d.events,
		Location:            loc,
	})
	if err != nil {
		return nil, err
	}
	rlog := d.log.With().Str("component", "reconcile").Logger()
	d.reconcile, err = daily.New(daily.Options{
		DB: d.db, Queue: d.queue, Journal: d.engine, Gateway: d.gw,
		Prefix:   cfg.Terminal.TerminalID + "_", // out_trade_no is terminal_id + "_" + … (checkout/ids.go)
		Location: loc, At: cfg.Reconcile.At, Logger: &rlog,
	})
	if err != nil {
		return nil, err
	}
	d.scanner, err = scanner.New(scanner.Config{
		Device:       cfg.Scanner.Device,
		Baud:         cfg.Scanner.Baud,
		FrameGap:     cfg.Scanner.FrameGap.Duration(),
		DedupeWindow: cfg.Scanner.DedupeWindow.Duration(),
		Logger:       d.log.With().Str("component", "scanner").Logger(),
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// openGateway makes the gateway client: the embedded sandbox, said loudly,
// or the real gateway with the configured keys.
func (d *daemon) openGateway() error {
	cfg := d.cfg
	glog := d.log.With().Str("component", "gateway").Logger()
	if cfg.Alipay.Sandbox() {
		slog := d.log.With().Str("component", "sandbox").Logger()
		sb, err := sandbox.New(sandbox.Config{Dir: filepath.Join(cfg.Terminal.DataDir, "sandbox"), Logger: &slog})
		if err != nil {
			return err
		}
		// Listen on loopback so the ledger (/sandbox/trades) and the fault
		// switch can be used from a browser or curl while trying posagent.
		if err := sb.Start("127.0.0.1:0"); err != nil {
			return err // "sandbox: listen: …"
		}
		d.sandbox = sb
		d.gw = sb.Client()
		if d.cfg.Alipay.PayPID == "" {
			d.cfg.Alipay.PayPID = sb.PayPID()
		}
		banner := fmt.Sprintf("SANDBOX MODE: payments go to the embedded Alipay simulator at %s; no real money moves. Set [alipay] gateway to go live.", sb.URL())
		if !d.logs.OnStderr(zerolog.WarnLevel) {
			// Said once: the warning below reaches stderr when it can.
			fmt.Fprintln(d.stderr, "posagent: "+banner)
		}
		d.log.Warn().Str("event", "sandbox_mode").Str("url", sb.URL()).
			Str("trades", sb.URL()[:len(sb.URL())-len("gateway.do")]+"sandbox/trades").Msg(banner)
	} else {
		gw, err := newGatewayClient(cfg)
		if err != nil {
			return err
		}
		d.gw = gw
	}
	d.gw.Timeout = cfg.Alipay.Timeout.Duration()
	d.gw.Logger = &glog
	return nil
}

// close releases what openDaemon opened, in reverse order.
func (d *daemon) close() {
	if d.reconcile != nil {
		d.reconcile.Close()
	}
	if d.sandbox != nil {
		d.sandbox.Close()
	}
	if d.db != nil {
		d.db.Close()
	}
}
