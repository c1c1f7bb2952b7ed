package main

import (
	"context"
	"errors"
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
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

// run starts the daemon on cfg and blocks until ctx is cancelled and the
// drain has finished. Under the Windows service manager the manager's stop
// request cancels it instead of a signal.
func (c *RunCommand) run(ctx context.Context, cfg Config) error {
	if runningAsService() {
		return runService(func(svcCtx context.Context) error { return c.runDaemon(svcCtx, cfg) })
	}
	return c.runDaemon(ctx, cfg)
}

func (c *RunCommand) runDaemon(ctx context.Context, cfg Config) error {
	logs, err := openLog(cfg.Log, c.Stderr)
	if err != nil {
		return &ConfigError{File: cfg.File, Key: "log.file", Msg: err.Error(), Err: err}
	}
	defer logs.Close()
	logs.Logger.Info().Str("event", "config").Str("config", cfg.Source()).Msg("configuration loaded")
	d, err := openDaemon(cfg, logs, c.Stderr)
	if err != nil {
		logs.Logger.Error().Str("event", "start_failed").Err(err).Msg("posagent could not start")
		var locked *lockedError
		if errors.As(err, &locked) {
			// Two daemons on one data_dir is a configuration problem: exit 2.
			return &ConfigError{File: cfg.File, Key: "terminal.data_dir", Msg: err.Error(), Err: err}
		}
		return err
	}
	defer d.close()
	if err := d.run(ctx); err != nil {
		logs.Logger.Error().Str("event", "start_failed").Err(err).Msg("posagent stopped with an error")
		return err
	}
	return nil
}
