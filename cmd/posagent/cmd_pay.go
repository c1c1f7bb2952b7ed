package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// apiHelp ends the help of every verb that talks to the daemon.
const apiHelp = `
It talks to the running daemon at api.listen with the bearer token read from
api.token_file, and prints the daemon's JSON reply.`

// amountRE is the shape of an amount on the command line: yuan with at most
// two decimals. The daemon checks the range.
var amountRE = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,2})?$`)

// PayCommand implements "posagent pay": it asks the daemon to charge an order
// (POST /v1/checkouts) and waits for the outcome.
type PayCommand struct {
	Streams
	Config     ConfigFlag
	OrderID    string        // the register's order id; required
	Amount     string        // "25.00"; required, > 0
	Subject    string        // order title; default: "Order " + OrderID
	OperatorID string        // the cashier; optional
	AuthCode   string        // a payment code instead of a scan; "-" reads it from stdin
	Wait       time.Duration // how long to wait for a final state; default 60s; 0: do not wait
}

// ParseFlags reads the command line into c.
func (c *PayCommand) ParseFlags(args []string) error {
	fs := newFlagSet("pay", "--order ID --amount 25.00 [--subject TEXT] [--code CODE] [--wait 60s]", `
Creates a checkout for an order and waits until it is paid, failed or
cancelled: the cashier scans the customer's payment code meanwhile, or --code
gives it. Prints the checkout; exits 0 only when it is paid.

A code given with --code stays in the shell history: prefer scanning, or
--code - to read it from stdin.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.OrderID, "order", "", "the register's order `ID` (required)")
	fs.StringVar(&c.Amount, "amount", "", "the `amount` in yuan, e.g. 25.00 (required)")
	fs.StringVar(&c.Subject, "subject", "", "the order title (default \"Order ID\")")
	fs.StringVar(&c.OperatorID, "operator", "", "the cashier's `ID`")
	fs.StringVar(&c.AuthCode, "code", "", "charge this payment `CODE` instead of waiting for a scan (- reads stdin)")
	fs.DurationVar(&c.Wait, "wait", 60*time.Second, "wait this long for the outcome; 0: print the new checkout and return")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	switch {
	case c.OrderID == "":
		return usageErrorf("--order is required")
	case c.Amount == "":
		return usageErrorf("--amount is required")
	case !amountRE.MatchString(c.Amount) || strings.Trim(c.Amount, "0.") == "":
		return usageErrorf("--amount must be a positive amount in yuan with at most two decimals, not %q", c.Amount)
	case c.Wait < 0:
		return usageErrorf("--wait must be >= 0, not %s", c.Wait)
	}
	if c.Subject == "" {
		c.Subject = "Order " + c.OrderID
	}
	return nil
}

// Run implements Command.
func (c *PayCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	cfg, err := c.Config.Load()
	if err != nil {
		return err
	}
	return c.run(ctx, cfg)
}

// run creates the checkout through the local API and waits for it.
func (c *PayCommand) run(ctx context.Context, cfg Config) error {
	return fmt.Errorf("%w: the local API client is not built in", errNotWired)
}
