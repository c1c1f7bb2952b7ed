package main

import (
	"context"
	"fmt"
	"time"
)

// ReportCommand implements "posagent report": the takings of a store day
// (GET /v1/reports/daily).
type ReportCommand struct {
	Streams
	Config ConfigFlag
	Date   string // the store day, YYYY-MM-DD; default: today in [reconcile] timezone
	JSON   bool   // print the daemon's JSON
}

// ParseFlags reads the command line into c.
func (c *ReportCommand) ParseFlags(args []string) error {
	fs := newFlagSet("report", "[--date YYYY-MM-DD] [--json]", `
Prints the takings of a store day: paid count and amount (what was charged,
after discounts), discounts, refunds, net, cancelled and needs_attention
counts, and the same per operator. Days are counted in [reconcile]
timezone (default Asia/Shanghai); the default day is today.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.Date, "date", "", "the store day `YYYY-MM-DD` (default today)")
	jsonFlag(fs, &c.JSON)
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	return checkDate(c.Date)
}

// checkDate refuses a --date that is not YYYY-MM-DD ("" passes).
func checkDate(d string) error {
	if d == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, d); err != nil {
		return usageErrorf("--date must be a day such as 2026-01-31, not %q", d)
	}
	return nil
}

// Run implements Command.
func (c *ReportCommand) Run(ctx context.Context, args []string) error {
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *ReportCommand) run(ctx context.Context, cfg Config) error {
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	rep, err := cl.DailyReport(ctx, c.Date)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(c.Stdout, rep)
	}
	fmt.Fprintf(c.Stdout, "Takings of %s, store %s, terminal %s\n\n", rep.Date, cell(rep.StoreID), rep.TerminalID)
	t := newTable(c.Stdout)
	t.row("paid", fmt.Sprintf("%d", rep.Paid.Count), rep.Paid.Amount.String())
	t.row("discounts", "", rep.Discounts.String())
	t.row("refunds", fmt.Sprintf("%d", rep.Refunds.Count), rep.Refunds.Amount.String())
	t.row("net", "", rep.Net.String())
	t.row("cancelled", fmt.Sprintf("%d", rep.Cancelled.Count), "")
	t.row("needs_attention", fmt.Sprintf("%d", rep.NeedsAttention.Count), "")
	if err := t.flush(); err != nil {
		return err
	}
	if len(rep.ByOperator) == 0 {
		return nil
	}
	fmt.Fprintln(c.Stdout)
	t = newTable(c.Stdout, "OPERATOR", "PAID", "AMOUNT", "REFUNDS", "AMOUNT")
	for _, o := range rep.ByOperator {
		t.row(o.OperatorID, fmt.Sprintf("%d", o.Paid.Count), o.Paid.Amount.String(), fmt.Sprintf("%d", o.Refunds.Count), o.Refunds.Amount.String())
	}
	return t.flush()
}
