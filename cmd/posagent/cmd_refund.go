package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
)

// RefundCommand implements "posagent refund": give back all or part of a
// paid checkout (POST /v1/checkouts/{id}/refunds), e.g. for a return.
type RefundCommand struct {
	Streams
	Config   ConfigFlag
	ID       string // the paid checkout; required
	Amount   string // the amount to give back, "5.00"; required
	Reason   string // shown to the buyer; optional
	RefundID string // the idempotency key; optional (the daemon makes one)
	JSON     bool   // print the daemon's JSON
}

// ParseFlags reads the command line into c.
func (c *RefundCommand) ParseFlags(args []string) error {
	fs := newFlagSet("refund", "CHECKOUT_ID --amount 5.00 [--reason TEXT] [--refund-id ID] [--json]", `
Gives back all or part of a paid checkout through Alipay (a return). The
daemon commits the refund before sending it and sends it until Alipay
answers, so it is never made twice; the refunds of a checkout never add up
to more than it paid. Run it again with the same --refund-id (printed)
to see how a refund ended instead of making a new one.
Exits 0 when refunded (or still pending: the daemon keeps sending it until
Alipay answers; see posagent checkouts CHECKOUT_ID), 1 when Alipay refused
it or the daemon did (not paid, more than is left).`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.Amount, "amount", "", "the `AMOUNT` to give back, e.g. 5.00 (required)")
	fs.StringVar(&c.Reason, "reason", "", "the reason shown to the buyer, e.g. \"returned goods\"")
	fs.StringVar(&c.RefundID, "refund-id", "", "your unique `ID` for this refund (default: the daemon makes one)")
	jsonFlag(fs, &c.JSON)
	var err error
	if c.ID, err = parseCheckoutID(fs, args, "refund"); err != nil {
		return err
	}
	if c.Amount == "" {
		return usageErrorf("--amount is required")
	}
	if a, err := gateway.ParseAmount(c.Amount); err != nil || a <= 0 {
		return usageErrorf("--amount must be yuan with at most two decimals, above 0, not %q", c.Amount)
	}
	return nil
}

// Run implements Command.
func (c *RefundCommand) Run(ctx context.Context, args []string) error {
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *RefundCommand) run(ctx context.Context, cfg Config) error {
	amount, _ := gateway.ParseAmount(c.Amount)
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	rf, created, err := cl.Refund(ctx, c.ID, api.RefundRequest{Amount: amount, Reason: c.Reason, RefundID: c.RefundID})
	if err != nil {
		return err
	}
	if !created {
		fmt.Fprintf(c.Stderr, "refund %s already exists for checkout %s; showing it\n", rf.RefundID, rf.CheckoutID)
	}
	if c.JSON {
		err = printJSON(c.Stdout, rf)
	} else {
		err = printRefund(c.Stdout, rf)
	}
	if err != nil {
		return err
	}
	switch rf.State {
	case checkout.RefundPending:
		fmt.Fprintf(c.Stderr, "refund %s is pending: Alipay has not answered yet; the daemon keeps sending it until it does (posagent checkouts %s shows it)\n", rf.RefundID, rf.CheckoutID)
	case checkout.RefundFailed:
		msg := fmt.Sprintf("refund %s of checkout %s failed", rf.RefundID, rf.CheckoutID)
		if rf.Error != nil {
			msg += ": " + rf.Error.Code + ": " + rf.Error.Message
		}
		return errors.New(msg)
	}
	return nil
}

// printRefund writes one refund as "field  value" lines.
func printRefund(w io.Writer, rf checkout.Refund) error {
	t := newTable(w)
	t.row("refund", rf.ID)
	t.row("refund_id", rf.RefundID)
	t.row("checkout_id", rf.CheckoutID)
	t.row("state", string(rf.State))
	t.row("amount", rf.Amount.String())
	if rf.Reason != "" {
		t.row("reason", rf.Reason)
	}
	t.row("out_request_no", rf.OutRequestNo)
	if rf.Error != nil {
		t.row("error", rf.Error.Code+": "+rf.Error.Message)
	}
	t.row("created_at", when(rf.CreatedAt))
	t.row("updated_at", when(rf.UpdatedAt))
	return t.flush()
}

// printRefunds writes a checkout's refunds as a table.
func printRefunds(w io.Writer, rfs []checkout.Refund) error {
	t := newTable(w, "REFUND", "REFUND_ID", "STATE", "AMOUNT", "ERROR", "CREATED")
	for _, rf := range rfs {
		code := ""
		if rf.Error != nil {
			code = rf.Error.Code
		}
		t.row(rf.ID, rf.RefundID, string(rf.State), rf.Amount.String(), code, when(rf.CreatedAt))
	}
	return t.flush()
}
