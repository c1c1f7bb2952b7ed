package main

import (
	"context"
	"fmt"
	"slices"

	"posagent/api"
	"posagent/checkout"
)

// resolveActions are the actions of POST /v1/checkouts/{id}/resolve.
var resolveActions = []string{"accept", "refund", "closed"}

// ResolveCommand implements "posagent resolve": settle a needs_attention
// checkout after checking its trade with Alipay
// (POST /v1/checkouts/{id}/resolve).
type ResolveCommand struct {
	Streams
	Config ConfigFlag
	ID     string // the needs_attention checkout; required
	Action string // accept, refund or closed; required
	Note   string // why, for the log; optional
	JSON   bool   // print the daemon's JSON
}

// ParseFlags reads the command line into c.
func (c *ResolveCommand) ParseFlags(args []string) error {
	fs := newFlagSet("resolve", "CHECKOUT_ID --action accept|refund|closed [--note TEXT] [--json]", `
Settles a checkout in needs_attention (the gateway refused to cancel a
trade whose outcome was never known) once you have looked at it. The daemon
asks Alipay about the trade first and refuses an action the answer
contradicts, saying what Alipay says:
  accept   the trade is paid and the sale stands: the checkout becomes paid
  refund   the trade is paid and the money goes back: a full refund, then
           the checkout is cancelled (refunded)
  closed   the trade is closed (or Alipay has none): the checkout is cancelled
Once cancelled, the order can be charged again.
Exits 0 when resolved (a refund still under way is said on stderr), 1 when
refused.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.Action, "action", "", "`ACTION`: accept, refund or closed (required)")
	fs.StringVar(&c.Note, "note", "", "why, for the log (e.g. \"customer showed the receipt\")")
	jsonFlag(fs, &c.JSON)
	var err error
	if c.ID, err = parseCheckoutID(fs, args, "resolve"); err != nil {
		return err
	}
	if !slices.Contains(resolveActions, c.Action) {
		return usageErrorf("--action must be accept, refund or closed, not %q", c.Action)
	}
	return nil
}

// Run implements Command.
func (c *ResolveCommand) Run(ctx context.Context, args []string) error {
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *ResolveCommand) run(ctx context.Context, cfg Config) error {
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	co, err := cl.Resolve(ctx, c.ID, api.ResolveRequest{Action: c.Action, Note: c.Note})
	if err != nil {
		return err
	}
	if c.JSON {
		err = printJSON(c.Stdout, co)
	} else {
		err = printCheckout(c.Stdout, co)
	}
	if err == nil && co.State == checkout.NeedsAttention {
		fmt.Fprintf(c.Stderr, "checkout %s: the refund is under way; it is cancelled once Alipay confirms (posagent checkouts %s shows it)\n", co.ID, co.ID)
	}
	return err
}
