package main

import (
	"context"
	"fmt"
)

// StatusCommand implements "posagent status": GET /v1/status of the daemon.
type StatusCommand struct {
	Streams
	Config ConfigFlag
}

// ParseFlags reads the command line into c.
func (c *StatusCommand) ParseFlags(args []string) error {
	fs := newFlagSet("status", "[--config FILE]", `
Shows the daemon's version, gateway reachability, scanner state
(open, reconnecting or stdin), queue depth and last error.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	_, err := parseFlags(fs, args, 0, 0)
	return err
}

// Run implements Command.
func (c *StatusCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	cfg, err := c.Config.Load()
	if err != nil {
		return err
	}
	return c.run(ctx, cfg)
}

func (c *StatusCommand) run(ctx context.Context, cfg Config) error {
	return fmt.Errorf("%w: the local API client is not built in", errNotWired)
}
