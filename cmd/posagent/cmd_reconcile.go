package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"posagent/reconcile"
	"posagent/reconcile/daily"
)

// ReconcileCommand implements "posagent reconcile": reconcile a store day
// against Alipay's trade bill now (POST /v1/reconciliations), or show the
// stored result (GET /v1/reconciliations/{date}).
type ReconcileCommand struct {
	Streams
	Config ConfigFlag
	Date   string // the store day, YYYY-MM-DD; default: yesterday in [reconcile] timezone
	Show   bool   // print the stored result, do not run
	JSON   bool   // print the daemon's JSON
	now    func() time.Time
}

// errNotMatched is the failure a day that does not match ends with (exit 1).
var errNotMatched = errors.New("the day does not match Alipay's bill")

// ParseFlags reads the command line into c.
func (c *ReconcileCommand) ParseFlags(args []string) error {
	fs := newFlagSet("reconcile", "[--date YYYY-MM-DD] [--show] [--json]", `
Reconciles a store day against Alipay's trade bill now: the paid trades and
refunds posagent recorded that day against the rows of this terminal in the
bill, both ways, to the fen. Prints the result; the daemon stores it and
logs a mismatch at error level. The default day is yesterday (the real
gateway serves a day's bill the next day). With --show, prints the stored
result without running.

Exit status: 0 matched; 1 mismatched, unavailable (no bill for the day yet:
the daemon asks again hourly), pending (Alipay could not be reached: the
daemon's queue runs it), or any failure.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.Date, "date", "", "the store day `YYYY-MM-DD` (default yesterday)")
	fs.BoolVar(&c.Show, "show", false, "print the stored result; do not run")
	jsonFlag(fs, &c.JSON)
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	return checkDate(c.Date)
}

// Run implements Command.
func (c *ReconcileCommand) Run(ctx context.Context, args []string) error {
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *ReconcileCommand) run(ctx context.Context, cfg Config) error {
	day := c.Date
	if day == "" {
		loc, err := cfg.Reconcile.Location()
		if err != nil {
			return err
		}
		now := time.Now
		if c.now != nil {
			now = c.now
		}
		day = now().In(loc).AddDate(0, 0, -1).Format(time.DateOnly)
	}
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	var res reconcile.Result
	queued := false
	if c.Show {
		res, err = cl.Reconciliation(ctx, day)
	} else {
		res, queued, err = cl.Reconcile(ctx, day)
	}
	if err != nil {
		return err
	}
	if c.JSON {
		err = printJSON(c.Stdout, res)
	} else {
		err = c.print(res)
	}
	if err != nil {
		return err
	}
	switch res.State {
	case reconcile.StateMatched:
		return nil
	case reconcile.StateMismatched:
		return fmt.Errorf("%w: %s is mismatched (%d differences)", errNotMatched, res.Date, daily.Mismatches(res))
	case reconcile.StateUnavailable:
		if c.Show || queued {
			return fmt.Errorf("%w: Alipay has no bill for %s yet; the daemon asks again hourly", errNotMatched, res.Date)
		}
		return fmt.Errorf("%w: Alipay has no bill for %s and posagent recorded no trades that day", errNotMatched, res.Date)
	}
	return fmt.Errorf("%w: %s is %s; the daemon's queue runs it when Alipay can be reached", errNotMatched, res.Date, res.State)
}

func (c *ReconcileCommand) print(res reconcile.Result) error {
	fmt.Fprintf(c.Stdout, "Reconciliation of %s: %s (checked %s)\n", res.Date, res.State, when(res.CheckedAt))
	fmt.Fprintf(c.Stdout, "matched: %d trades, %s; refunds matched: %d, %s\n",
		res.Matched.Count, res.Matched.Amount, res.Refunds.Matched.Count, res.Refunds.Matched.Amount)
	if daily.Mismatches(res) == 0 {
		return nil
	}
	fmt.Fprintln(c.Stdout)
	t := newTable(c.Stdout, "PROBLEM", "CHECKOUT", "OUT_TRADE_NO", "LOCAL", "BILL")
	for _, id := range res.MissingInBill {
		t.row("missing in bill", id, "", "", "")
	}
	for _, m := range res.AmountMismatch {
		t.row("amount differs", m.CheckoutID, m.OutTradeNo, m.Local.String(), m.Bill.String())
	}
	for _, r := range res.MissingLocally {
		t.row(fmt.Sprintf("missing locally (bill line %d)", r.Line), "", r.OutTradeNo, "", r.Amount.String())
	}
	for _, m := range res.Refunds.Mismatched {
		t.row("refund "+m.Reason, m.CheckoutID, m.OutTradeNo+" "+m.OutRequestNo, m.Local.String(), m.Bill.String())
	}
	return t.flush()
}
