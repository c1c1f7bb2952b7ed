// Command posagent is the Alipay barcode checkout agent for store cashier
// machines: a daemon (posagent run) that the register software drives over a
// local HTTP API, an embedded gateway simulator (posagent sandbox), a key
// generator, and operator verbs that talk to a running daemon.
//
// This package owns the command line and the config file (Config, LoadConfig,
// Validate) and wires the domain packages together; it holds no checkout or
// protocol logic. Each verb is an XxxCommand with its own flag set and a
// Run(ctx, args) method; main.go only dispatches.
//
// Exit status: 0 ok, 1 failure, 2 bad usage or config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	ctx, stop := signalContext(context.Background(), os.Stderr, os.Exit)
	code := NewMain().Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2 // bad usage or config
)

// Streams are the standard streams a verb reads and writes; tests replace them.
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Command is one verb of posagent.
type Command interface {
	// Run parses args (the arguments after the verb) and does the work. It
	// returns flag.ErrHelp after printing help for -h, a *UsageError or
	// *ConfigError for bad usage or config (exit 2), any other error for a
	// failure (exit 1).
	Run(ctx context.Context, args []string) error
}

// Main dispatches the command line to a verb.
type Main struct {
	Streams
}

// NewMain returns a Main on the process's standard streams.
func NewMain() *Main {
	return &Main{Streams{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}}
}

// Run runs the verb named by args[0] and returns the exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return exitUsage
	}
	verb, rest := args[0], args[1:]
	switch verb {
	case "help", "-h", "-help", "--help":
		if verb == "help" && len(rest) > 0 {
			// Help on a verb goes to stdout, like any help asked for.
			cmd := command(rest[0], Streams{Stdin: m.Stdin, Stdout: m.Stdout, Stderr: m.Stdout})
			if cmd == nil {
				return m.unknownVerb(rest[0])
			}
			return m.exitStatus(rest[0], cmd.Run(ctx, []string{"-h"}))
		}
		fmt.Fprint(m.Stdout, usage)
		return exitOK
	}
	cmd := command(verb, m.Streams)
	if cmd == nil {
		return m.unknownVerb(verb)
	}
	return m.exitStatus(verb, cmd.Run(ctx, rest))
}

// command returns the verb's Command, or nil for an unknown verb.
func command(verb string, s Streams) Command {
	switch verb {
	case "run":
		return &RunCommand{Streams: s}
	case "sandbox":
		return &SandboxCommand{Streams: s}
	case "keygen":
		return &KeygenCommand{Streams: s}
	case "check":
		return &CheckCommand{Streams: s}
	case "pay":
		return &PayCommand{Streams: s}
	case "status":
		return &StatusCommand{Streams: s}
	case "report":
		return &ReportCommand{Streams: s}
	case "reconcile":
		return &ReconcileCommand{Streams: s}
	case "refund":
		return &RefundCommand{Streams: s}
	case "resolve":
		return &ResolveCommand{Streams: s}
	case "checkouts":
		return &CheckoutsCommand{Streams: s}
	case "jobs":
		return &JobsCommand{Streams: s}
	case "coupons":
		return &CouponsCommand{Streams: s}
	case "consult":
		return &ConsultCommand{Streams: s}
	case "award":
		return &AwardCommand{Streams: s}
	case "agreements":
		return &AgreementsCommand{Streams: s}
	case "version":
		return &VersionCommand{Streams: s}
	case "backup":
		return &BackupCommand{Streams: s}
	case "compact":
		return &CompactCommand{Streams: s}
	case "service":
		return &ServiceCommand{Streams: s}
	}
	return nil
}

func (m *Main) unknownVerb(verb string) int {
	fmt.Fprintf(m.Stderr, "posagent: unknown verb %q\n\n%s", verb, usage)
	return exitUsage
}

// exitStatus reports err on stderr (unless the flag package already did) and
// maps it to an exit status.
func (m *Main) exitStatus(verb string, err error) int {
	var usageErr *UsageError
	var configErr *ConfigError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &usageErr):
		if !usageErr.printed {
			fmt.Fprintf(m.Stderr, "posagent %s: %s\nRun 'posagent %s -h' for help.\n", verb, usageErr.Msg, verb)
		}
		return exitUsage
	case errors.As(err, &configErr):
		m.printError(verb, err)
		return exitUsage
	default:
		m.printError(verb, err)
		return exitFailure
	}
}

// printError writes err, one line per line of it (joined errors), each
// prefixed with the verb.
func (m *Main) printError(verb string, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(m.Stderr, "posagent %s: %s\n", verb, line)
	}
}

const usage = `posagent is the Alipay barcode checkout agent for store cashier machines.

Usage: posagent VERB [flags] [arguments]

The daemon:
  run          run the checkout daemon (local API, scanner, queue)
  sandbox      serve the embedded Alipay gateway simulator

Setup:
  keygen       write a new RSA key pair for the Alipay app
  check        check app_id, keys or certificates, pay_pid and app_auth_token against the gateway
  service      install or manage the Windows service
  version      print the version
  backup       copy the database while the daemon runs
  compact      rewrite the database smaller (daemon stopped)

Operator verbs (talk to a running daemon through its local API):
  pay          charge an order and wait for the outcome
  status       show the daemon's status
  report       show a day's takings, in total and per operator
  reconcile    check a day's takings against Alipay's trade bill
  refund       give back all or part of a paid checkout (a return)
  resolve      settle a needs_attention checkout after checking it with Alipay
  checkouts    list, show or cancel checkouts
  jobs         list or retry queued jobs
  coupons      list or import coupons
  consult      ask Alipay about a user and a marketing scene
  award        receive an invite award for a user
  agreements   list a user's agreements

Every verb takes --config FILE (default posagent.toml; when that file is
missing, the built-in defaults: sandbox gateway, scanner on stdin).
Run 'posagent VERB -h' for the flags of a verb.

Exit status: 0 ok, 1 failure, 2 bad usage or config.
`
