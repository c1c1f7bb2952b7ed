package main

import (
	"context"
	"fmt"
)

// RunCommand implements "posagent run": the checkout daemon. It serves the
// local API, reads the scanner, runs checkouts and the retry queue until the
// context is cancelled (SIGINT/SIGTERM), then drains and returns.
type RunCommand struct {
	Streams
	Config ConfigFlag
}

// ParseFlags reads the command line into c.
func (c *RunCommand) ParseFlags(args []string) error {
	fs := newFlagSet("run", "[--config FILE]", `
Runs the checkout daemon: the local API on api.listen for the register
software, the scanner on scanner.device, checkouts and the durable retry queue
in data_dir/posagent.db, and logs to log.file.

With alipay.gateway = "sandbox" (the default when there is no config file) the
embedded gateway simulator runs in-process, and posagent says so on stderr and
in the log: no real money moves.

SIGINT or SIGTERM starts a bounded shutdown that lets work in flight reach a
safe point; a second signal stops at once. Nothing is lost either way: every
step is on disk before the network call it leads to.`, c.Stderr)
	c.Config.register(fs)
	_, err := parseFlags(fs, args, 0, 0)
	return err
}

// Run implements Command.
func (c *RunCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	cfg, err := c.Config.Load()
	if err != nil {
		return err
	}
	return c.run(ctx, cfg)
}

// run starts the daemon on cfg and blocks until ctx is cancelled and the
// drain has finished.
func (c *RunCommand) run(ctx context.Context, cfg Config) error {
	return fmt.Errorf("%w: the daemon (checkout, queue, scanner, local API) is not built in", errNotWired)
}
