package main

import (
	"context"
	"path/filepath"
)

// serviceName is the Windows service's name (and the systemd unit's).
const serviceName = "posagent"

// ServiceCommand implements "posagent service": installs and manages the
// Windows service. On Linux the daemon runs under systemd instead (see
// etc/posagent.service), and this verb says so.
type ServiceCommand struct {
	Streams
	Config ConfigFlag
	// Action is install, uninstall, start or stop.
	Action string
}

// ParseFlags reads the command line into c.
func (c *ServiceCommand) ParseFlags(args []string) error {
	fs := newFlagSet("service", "install|uninstall|start|stop [--config FILE]", `
Manages posagent as a Windows service named "posagent".

  install    registers the service to start automatically at boot and to be
             restarted by Windows if it stops unexpectedly; it runs
             "posagent.exe run --config FILE" with FILE made absolute
  uninstall  removes the service (stop it first)
  start      starts the service
  stop       stops the service (a bounded drain, as with Ctrl-C)

The service logs to [log] file; check it and "posagent status". On Linux use
the systemd unit etc/posagent.service instead.`, c.Stderr)
	c.Config.register(fs)
	rest, err := parseFlags(fs, args, 1, 1)
	if err != nil {
		return err
	}
	switch c.Action = rest[0]; c.Action {
	case "install", "uninstall", "start", "stop":
		return nil
	}
	return usageErrorf("unknown service action %q: want install, uninstall, start or stop", c.Action)
}

// Run implements Command.
func (c *ServiceCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	if c.Action == "install" {
		// Validate now, not when the service first fails to start.
		cfg, err := c.Config.Load()
		if err != nil {
			return err
		}
		if cfg.File == "" {
			return usageErrorf("service install needs --config FILE: a service has no working folder to find posagent.toml in")
		}
		abs, err := filepath.Abs(cfg.File)
		if err != nil {
			return err
		}
		return manageService(c.Streams, c.Action, abs)
	}
	return manageService(c.Streams, c.Action, "")
}
