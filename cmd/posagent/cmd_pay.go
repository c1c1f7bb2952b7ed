package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
)

// apiHelp ends the help of every verb that talks to the daemon.
const apiHelp = `
It talks to the running daemon at api.listen with the bearer token read from
api.token_file. It prints a table, or with --json the daemon's JSON reply.`

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
	Wait       time.Duration // how long to wait for a scan; default 60s; 0: do not wait
	JSON       bool          // print the checkout as JSON
}

// ParseFlags reads the command line into c.
func (c *PayCommand) ParseFlags(args []string) error {
	fs := newFlagSet("pay", "--order ID --amount 25.00 [--subject TEXT] [--operator ID] [--code CODE] [--wait 60s] [--json]", `
Creates a checkout for an order and waits until it is paid, failed or
cancelled: the cashier scans the customer's payment code meanwhile, or --code
gives it. Prints the checkout; exits 0 only when it is paid. --wait bounds the
wait for a scan: a checkout still awaiting a scan when it is over (or on
Ctrl-C) is cancelled, so it does not hold the scanner; nothing was charged.
Once a code is scanned, pay follows the payment until it is decided, past
--wait if need be: up to checkout.decision_deadline and the cancel after it.

A code given with --code stays in the shell history: prefer scanning, or
--code - to read it from stdin.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.OrderID, "order", "", "the register's order `ID` (required)")
	fs.StringVar(&c.Amount, "amount", "", "the `amount` in yuan, e.g. 25.00 (required)")
	fs.StringVar(&c.Subject, "subject", "", "the order title (default \"Order ID\")")
	fs.StringVar(&c.OperatorID, "operator", "", "the cashier's `ID`")
	fs.StringVar(&c.AuthCode, "code", "", "charge this payment `CODE` instead of waiting for a scan (- reads stdin)")
	fs.StringVar(&c.AuthCode, "auth-code", "", "the same as --code")
	fs.DurationVar(&c.Wait, "wait", 60*time.Second, "wait this long for a scan; 0: print the new checkout and return")
	jsonFlag(fs, &c.JSON)
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
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

// run creates the checkout through the local API and waits for it. A
// checkout still awaiting a scan when the wait is over (or on Ctrl-C) is
// cancelled, so that it does not hold the scanner: nothing was charged.
func (c *PayCommand) run(ctx context.Context, cfg Config) error {
	amount, err := gateway.ParseAmount(c.Amount)
	if err != nil {
		return usageErrorf("--amount: %v", err)
	}
	code := c.AuthCode
	if code == "-" {
		if code, err = readCode(c.Stdin); err != nil {
			return err
		}
	}
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	co, created, err := cl.CreateCheckout(ctx, api.CreateCheckoutRequest{
		OrderID: c.OrderID, Amount: amount, Subject: c.Subject, OperatorID: c.OperatorID, AuthCode: code,
	})
	if err != nil {
		return err
	}
	if !created {
		fmt.Fprintf(c.Stderr, "order %s already has checkout %s (%s)\n", co.OrderID, co.ID, co.State)
	}
	if c.Wait > 0 && !co.State.Terminal() {
		co, err = c.follow(ctx, cl, co, cfg.Checkout.DecisionDeadline.Duration())
		if err != nil {
			return err
		}
	}
	if c.JSON {
		if err := printJSON(c.Stdout, co); err != nil {
			return err
		}
	} else if err := printCheckout(c.Stdout, co); err != nil {
		return err
	}
	switch {
	case co.State == checkout.Paid:
		return nil
	case c.Wait == 0 && !co.State.Terminal():
		return nil // asked not to wait
	}
	return checkoutFailure(co)
}

// pollEvery is how long one GET ?wait= of pay holds; a change answers it
// at once (since=).
const pollEvery = 20 * time.Second

// settleGrace is how long pay keeps following a payment past the decision
// deadline: the cancel that follows an undecided trade takes a moment.
const settleGrace = 30 * time.Second

// follow waits for co to reach a final state, printing each change to
// stderr as soon as the daemon reports it (?wait=&since=). The wait for a
// scan ends at --wait; once a code is scanned, the payment is followed up
// to the decision deadline and settleGrace after it.
func (c *PayCommand) follow(ctx context.Context, cl *api.Client, co checkout.Checkout, decision time.Duration) (checkout.Checkout, error) {
	deadline := time.Now().Add(c.Wait)
	extended := false
	if co.State == checkout.AwaitingScan {
		fmt.Fprintf(c.Stderr, "checkout %s: %s for order %s; scan the customer's payment code (waiting up to %s)\n",
			co.ID, co.Amount, co.OrderID, c.Wait)
	}
	last := progress(co)
	for !co.State.Terminal() {
		if !extended && co.State != checkout.AwaitingScan {
			// Scanned: the money is moving, follow it to its end.
			extended = true
			deadline = later(deadline, time.Now().Add(decision+settleGrace))
		}
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			break
		}
		next, err := cl.WaitCheckout(ctx, co.ID, min(left, pollEvery), co.UpdatedAt)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return co, err
		}
		co = next
		if p := progress(co); p != last && !co.State.Terminal() {
			fmt.Fprintln(c.Stderr, p)
			last = p
		}
	}
	if co.State != checkout.AwaitingScan {
		if !co.State.Terminal() {
			fmt.Fprintf(c.Stderr, "checkout %s is still %s; follow it with: posagent checkouts --wait 60s %s\n", co.ID, co.State, co.ID)
		}
		return co, nil
	}
	// Nobody scanned: give the scanner back. A fresh context, so that
	// Ctrl-C still cancels.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cancelled, err := cl.CancelCheckout(cctx, co.ID)
	if err != nil {
		return co, fmt.Errorf("no payment code was scanned, and cancelling checkout %s failed: %w", co.ID, err)
	}
	fmt.Fprintf(c.Stderr, "no payment code was scanned: checkout %s is %s\n", cancelled.ID, cancelled.State)
	return cancelled, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// progress is the line pay prints when a checkout moves on.
func progress(co checkout.Checkout) string {
	s := "checkout " + co.ID + ": " + string(co.State)
	if co.Error != nil {
		s += ": " + co.Error.Code + ": " + co.Error.Message
	}
	return s
}

// checkoutFailure is the error of a checkout that did not end paid.
func checkoutFailure(co checkout.Checkout) error {
	msg := fmt.Sprintf("checkout %s (order %s) is %s", co.ID, co.OrderID, co.State)
	if co.Error != nil {
		msg += ": " + co.Error.Code + ": " + co.Error.Message
	}
	return errors.New(msg)
}

// readCode reads one payment code, the first line of r.
func readCode(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the payment code from stdin: %w", err)
	}
	code := strings.TrimSpace(line)
	if code == "" {
		return "", usageErrorf("--code -: no payment code on stdin")
	}
	return code, nil
}
