package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"posagent/api"
	"posagent/checkout"
)

// checkoutStates are the states of SPEC §4, for --state.
var checkoutStates = []string{
	"awaiting_scan", "decoding", "paying", "waiting_buyer", "paid",
	"failed", "cancelling", "cancelled", "needs_attention",
}

// maxWait is the longest hold the local API grants on GET /v1/checkouts/{id}.
const maxWait = 60 * time.Second

// CheckoutsCommand implements "posagent checkouts": list checkouts, show one
// (optionally waiting for a final state), or cancel one.
type CheckoutsCommand struct {
	Streams
	Config ConfigFlag
	ID     string        // the checkout to show or cancel; empty: list
	State  string        // list only checkouts in this state; empty: all
	Limit  int           // list at most this many, newest first; default 20
	Wait   time.Duration // show: hold until the state is final, at most 60s; default 0
	Cancel bool          // cancel checkout ID
	JSON   bool          // print the daemon's JSON
}

// ParseFlags reads the command line into c.
func (c *CheckoutsCommand) ParseFlags(args []string) error {
	fs := newFlagSet("checkouts", "[--json] [--state STATE] [--limit N] | [--wait 30s] ID | --cancel ID", `
Without ID, lists recent checkouts, newest first (GET /v1/checkouts).
With ID, shows that checkout (GET /v1/checkouts/ID); --wait holds the reply
until its state is final or the time is up.
With --cancel, abandons a checkout awaiting a scan or cancels its trade
(POST /v1/checkouts/ID/cancel).

States: `+strings.Join(checkoutStates, ", ")+`.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.State, "state", "", "list only checkouts in `STATE`")
	fs.IntVar(&c.Limit, "limit", 20, "list at most `N` checkouts")
	fs.DurationVar(&c.Wait, "wait", 0, "with ID: wait up to this long (at most 60s) for a final state")
	fs.BoolVar(&c.Cancel, "cancel", false, "cancel checkout ID")
	jsonFlag(fs, &c.JSON)
	rest, err := parseFlags(fs, args, 0, 1)
	if err != nil {
		return err
	}
	if len(rest) == 1 {
		c.ID = rest[0]
	}
	switch {
	case c.Cancel && c.ID == "":
		return usageErrorf("--cancel needs the checkout ID")
	case c.ID != "" && (c.State != "" || flagSet(fs, "limit")):
		return usageErrorf("--state and --limit list checkouts; they do not go with an ID")
	case c.ID == "" && c.Wait != 0:
		return usageErrorf("--wait needs a checkout ID")
	case c.Cancel && c.Wait != 0:
		return usageErrorf("--wait does not go with --cancel")
	case c.State != "" && !slices.Contains(checkoutStates, c.State):
		return usageErrorf("--state must be one of %s, not %q", strings.Join(checkoutStates, ", "), c.State)
	case c.Limit < 1:
		return usageErrorf("--limit must be >= 1, not %d", c.Limit)
	case c.Wait < 0 || c.Wait > maxWait:
		return usageErrorf("--wait must be between 0 and %s, not %s", maxWait, c.Wait)
	}
	return nil
}

// Run implements Command.
func (c *CheckoutsCommand) Run(ctx context.Context, args []string) error {
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *CheckoutsCommand) run(ctx context.Context, cfg Config) error {
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	switch {
	case c.Cancel:
		co, err := cl.CancelCheckout(ctx, c.ID)
		if err != nil {
			return err
		}
		return c.print(co)
	case c.ID != "":
		co, err := cl.GetCheckout(ctx, c.ID, c.Wait)
		if err != nil {
			return err
		}
		if err := c.print(co); err != nil || c.JSON || co.State != checkout.Paid {
			return err
		}
		// A paid checkout: its refunds too (cmd_refund.go).
		rfs, err := cl.CheckoutRefunds(ctx, co.ID)
		if err != nil || len(rfs) == 0 {
			return err
		}
		fmt.Fprintln(c.Stdout)
		return printRefunds(c.Stdout, rfs)
	}
	cs, err := cl.ListCheckouts(ctx, checkout.ListFilter{State: checkout.State(c.State), Limit: c.Limit})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(c.Stdout, api.Items[checkout.Checkout]{Items: cs})
	}
	if len(cs) == 0 {
		fmt.Fprintln(c.Stdout, "no checkouts")
		return nil
	}
	t := newTable(c.Stdout, "ID", "ORDER", "STATE", "AMOUNT", "PAID", "REFUNDED", "USER", "ERROR", "CREATED")
	for _, co := range cs {
		paid, refunded := "-", "-"
		if co.State == checkout.Paid {
			paid = co.PaidAmount.String()
		}
		if co.RefundedAmount != 0 {
			refunded = co.RefundedAmount.String()
		}
		errCode := ""
		if co.Error != nil {
			errCode = co.Error.Code
		}
		t.row(co.ID, co.OrderID, string(co.State), co.Amount.String(), paid, refunded, co.UserID, errCode, when(co.CreatedAt))
	}
	return t.flush()
}

func (c *CheckoutsCommand) print(co checkout.Checkout) error {
	if c.JSON {
		return printJSON(c.Stdout, co)
	}
	return printCheckout(c.Stdout, co)
}

// printCheckout writes one checkout as "field  value" lines.
func printCheckout(w io.Writer, co checkout.Checkout) error {
	t := newTable(w)
	t.row("id", co.ID)
	t.row("order_id", co.OrderID)
	t.row("state", string(co.State))
	t.row("amount", co.Amount.String())
	if co.Discount != 0 || co.CouponID != "" {
		t.row("discount", co.Discount.String()+" (coupon "+co.CouponID+")")
	}
	if co.State == checkout.Paid || co.PaidAmount != 0 {
		t.row("paid_amount", co.PaidAmount.String())
	}
	if co.RefundedAmount != 0 {
		t.row("refunded_amount", co.RefundedAmount.String())
	}
	if co.Refunded {
		t.row("refunded", "yes")
	}
	t.row("subject", co.Subject)
	if co.OperatorID != "" {
		t.row("operator_id", co.OperatorID)
	}
	t.row("user_id", co.UserID)
	t.row("out_trade_no", co.OutTradeNo)
	t.row("trade_no", co.TradeNo)
	if co.ConsultResult != nil {
		t.row("consult_result", fmt.Sprint(*co.ConsultResult))
	}
	if co.Error != nil {
		t.row("error", co.Error.Code+": "+co.Error.Message)
	}
	t.row("created_at", when(co.CreatedAt))
	t.row("updated_at", when(co.UpdatedAt))
	return t.flush()
}
