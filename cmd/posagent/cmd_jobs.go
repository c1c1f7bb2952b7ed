package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"posagent/api"
	"posagent/queue"
)

// jobStates are the states of a queued job, for --state.
var jobStates = []string{queue.StatePending, queue.StateDone, queue.StateFailed, queue.StateDead}

// JobsCommand implements "posagent jobs": list the retry queue, show a job,
// retry one now, or drop one.
type JobsCommand struct {
	Streams
	Config ConfigFlag
	State  string // list only jobs in this state; empty: all
	Kind   string // list only jobs of this kind; empty: all
	Limit  int    // list at most this many, newest first; default 50
	Retry  bool   // retry job ID now
	Drop   bool   // drop job ID
	ID     string // the job to show, retry or drop
	JSON   bool   // print the daemon's JSON
}

// ParseFlags reads the command line into c.
func (c *JobsCommand) ParseFlags(args []string) error {
	fs := newFlagSet("jobs", "[--state STATE] [--kind KIND] [--limit N] | ID | retry ID | drop ID", `
Without arguments, lists the durable retry queue (GET /v1/jobs), newest
first: each job's kind, key, state, attempts, next run and last error. Dead
jobs were dead-lettered after [queue] max_age and wait for a person.
With ID, shows that job (GET /v1/jobs/ID).
"retry ID" (or --retry ID) runs job ID again now (POST /v1/jobs/ID/retry),
also a dead or failed one.
"drop ID" (or --drop ID) deletes job ID for good (DELETE /v1/jobs/ID); trade
jobs cannot be dropped, as they resolve a payment.

States: `+strings.Join(jobStates, ", ")+`.
Kinds: trade_cancel, trade_reconcile, coupon_report, award_receive.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.State, "state", "", "list only jobs in `STATE`")
	fs.StringVar(&c.Kind, "kind", "", "list only jobs of `KIND`")
	fs.IntVar(&c.Limit, "limit", 50, "list at most `N` jobs")
	fs.BoolVar(&c.Retry, "retry", false, "retry job ID now")
	fs.BoolVar(&c.Drop, "drop", false, "drop job ID")
	jsonFlag(fs, &c.JSON)
	sub, rest, err := parseSubverb(fs, args, []string{"list", "retry", "drop"}, 0, 1)
	if err != nil {
		return err
	}
	switch sub {
	case "retry":
		c.Retry = true
	case "drop":
		c.Drop = true
	}
	if len(rest) == 1 {
		c.ID = rest[0]
	}
	listing := c.State != "" || c.Kind != "" || flagSet(fs, "limit")
	switch {
	case c.Retry && c.Drop:
		return usageErrorf("retry and drop do not go together")
	case (c.Retry || c.Drop) && c.ID == "":
		return usageErrorf("retry and drop need the job ID")
	case c.ID != "" && listing:
		return usageErrorf("--state, --kind and --limit list jobs; they do not go with an ID")
	case c.State != "" && !slices.Contains(jobStates, c.State):
		return usageErrorf("--state must be one of %s, not %q", strings.Join(jobStates, ", "), c.State)
	case c.Kind != "" && !slices.Contains(api.JobKinds, c.Kind):
		return usageErrorf("--kind must be one of %s, not %q", strings.Join(api.JobKinds, ", "), c.Kind)
	case c.Limit < 1 || c.Limit > queue.MaxListLimit:
		return usageErrorf("--limit must be between 1 and %d, not %d", queue.MaxListLimit, c.Limit)
	}
	if c.ID != "" {
		if n, err := strconv.ParseUint(c.ID, 10, 64); err != nil || n == 0 {
			return usageErrorf("a job ID is a positive number, not %q", c.ID)
		}
	}
	return nil
}

// Run implements Command.
func (c *JobsCommand) Run(ctx context.Context, args []string) error {
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *JobsCommand) run(ctx context.Context, cfg Config) error {
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	if c.ID != "" {
		id, _ := strconv.ParseUint(c.ID, 10, 64)
		var j queue.Job
		switch {
		case c.Retry:
			j, err = cl.RetryJob(ctx, id)
		case c.Drop:
			j, err = cl.DropJob(ctx, id)
		default:
			j, err = cl.GetJob(ctx, id)
		}
		if err != nil {
			return err
		}
		if c.JSON {
			return printJSON(c.Stdout, j)
		}
		switch {
		case c.Retry:
			fmt.Fprintf(c.Stdout, "job %d (%s %s) will run again now\n", j.ID, j.Kind, j.Key)
		case c.Drop:
			fmt.Fprintf(c.Stdout, "job %d (%s %s, %s) dropped\n", j.ID, j.Kind, j.Key, j.State)
		default:
			return printJob(c, j)
		}
		return nil
	}
	jobs, err := cl.ListJobs(ctx, queue.Filter{State: c.State, Kind: c.Kind, Limit: c.Limit})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(c.Stdout, api.Items[queue.Job]{Items: jobs})
	}
	if len(jobs) == 0 {
		fmt.Fprintln(c.Stdout, "no jobs")
		return nil
	}
	t := newTable(c.Stdout, "ID", "KIND", "KEY", "STATE", "ATTEMPTS", "NEXT_RUN", "LAST_ERROR")
	for _, j := range jobs {
		next := "-"
		if j.State == queue.StatePending {
			next = when(j.NextRun)
		}
		t.row(strconv.FormatUint(j.ID, 10), j.Kind, j.Key, j.State, strconv.Itoa(j.Attempts), next, clip(j.LastError, 80))
	}
	return t.flush()
}

func printJob(c *JobsCommand, j queue.Job) error {
	t := newTable(c.Stdout)
	t.row("id", strconv.FormatUint(j.ID, 10))
	t.row("kind", j.Kind)
	t.row("key", j.Key)
	t.row("state", j.State)
	t.row("attempts", strconv.Itoa(j.Attempts))
	t.row("next_run", when(j.NextRun))
	t.row("last_error", j.LastError)
	t.row("payload", string(j.Payload))
	t.row("result", string(j.Result))
	t.row("created_at", when(j.CreatedAt))
	t.row("updated_at", when(j.UpdatedAt))
	if !j.RetriedAt.IsZero() {
		t.row("retried_at", when(j.RetriedAt))
	}
	return t.flush()
}
