package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
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
}

// ParseFlags reads the command line into c.
func (c *CheckoutsCommand) ParseFlags(args []string) error {
	fs := newFlagSet("checkouts", "[--state STATE] [--limit N] | [--wait 30s] ID | --cancel ID", `
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
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	cfg, err := c.Config.Load()
	if err != nil {
		return err
	}
	return c.run(ctx, cfg)
}

func (c *CheckoutsCommand) run(ctx context.Context, cfg Config) error {
	return fmt.Errorf("%w: the local API client is not built in", errNotWired)
}
