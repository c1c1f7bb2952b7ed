package main

import (
	"context"
	"fmt"
)

// JobsCommand implements "posagent jobs": list the retry queue, or retry a
// job now.
type JobsCommand struct {
	Streams
	Config ConfigFlag
	Retry  bool   // retry job ID now
	ID     string // the job to retry
}

// ParseFlags reads the command line into c.
func (c *JobsCommand) ParseFlags(args []string) error {
	fs := newFlagSet("jobs", "| --retry ID", `
Without flags, lists the durable retry queue (GET /v1/jobs): each job's kind,
attempts, next run, last error, and whether it is dead-lettered.
With --retry, runs job ID again now (POST /v1/jobs/ID/retry), also a
dead-lettered one.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.BoolVar(&c.Retry, "retry", false, "retry job ID now")
	rest, err := parseFlags(fs, args, 0, 1)
	if err != nil {
		return err
	}
	if len(rest) == 1 {
		c.ID = rest[0]
	}
	switch {
	case c.Retry && c.ID == "":
		return usageErrorf("--retry needs the job ID")
	case !c.Retry && c.ID != "":
		return usageErrorf("a job ID goes with --retry")
	}
	return nil
}

// Run implements Command.
func (c *JobsCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	cfg, err := c.Config.Load()
	if err != nil {
		return err
	}
	return c.run(ctx, cfg)
}

func (c *JobsCommand) run(ctx context.Context, cfg Config) error {
	return fmt.Errorf("%w: the local API client is not built in", errNotWired)
}
