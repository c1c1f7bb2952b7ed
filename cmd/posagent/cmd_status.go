package main

import (
	"context"
	"fmt"
	"strings"

	"posagent/checkout"
)

// StatusCommand implements "posagent status": GET /v1/status of the daemon.
type StatusCommand struct {
	Streams
	Config ConfigFlag
	JSON   bool // print the daemon's JSON
}

// ParseFlags reads the command line into c.
func (c *StatusCommand) ParseFlags(args []string) error {
	fs := newFlagSet("status", "[--config FILE] [--json]", `
Shows the daemon's version, gateway reachability, scanner state
(open, reconnecting or stdin), queue depth and last error.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	jsonFlag(fs, &c.JSON)
	_, err := parseFlags(fs, args, 0, 0)
	return err
}

// Run implements Command.
func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *StatusCommand) run(ctx context.Context, cfg Config) error {
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	st, err := cl.Status(ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(c.Stdout, st)
	}
	t := newTable(c.Stdout)
	t.row("version", st.Version)
	if !st.StartedAt.IsZero() {
		t.row("started", when(st.StartedAt))
	}
	gw := st.Gateway.Mode + " " + st.Gateway.URL
	if st.Gateway.Reachable {
		gw += " (reachable"
	} else {
		gw += " (UNREACHABLE"
	}
	if st.Gateway.LastSeen != nil {
		gw += ", last answer " + when(*st.Gateway.LastSeen)
	}
	t.row("gateway", gw+")")
	t.row("scanner", st.Scanner.Device+" ("+st.Scanner.State+")")
	if q := st.Queue; q != nil {
		line := fmt.Sprintf("%d pending, %d dead, %d failed", q.Pending, q.Dead, q.Failed)
		for _, r := range q.Remotes {
			if !r.Online {
				line += fmt.Sprintf("; %s offline since %s", r.Name, when(r.Since))
			}
		}
		t.row("queue", line)
	}
	t.row("checkouts", checkoutCounts(st.Checkouts))
	if r := st.Reconciliation; r != nil {
		line := r.Date + " " + r.State
		if r.Mismatches > 0 {
			line += fmt.Sprintf(" (%d differences: posagent reconcile --date %s --show)", r.Mismatches, r.Date)
		}
		t.row("reconciliation", line+", checked "+when(r.CheckedAt))
	}
	if st.LastError != nil {
		t.row("last error", when(st.LastError.At)+" "+st.LastError.Message)
	} else {
		t.row("last error", "none")
	}
	return t.flush()
}

// checkoutCounts lists the states that have checkouts, in machine order.
func checkoutCounts(n map[string]int) string {
	var parts []string
	for _, s := range checkout.States {
		if n[string(s)] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[string(s)], s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
