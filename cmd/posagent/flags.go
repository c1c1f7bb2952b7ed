package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// UsageError is a command line that does not make sense: a missing or
// conflicting flag, a bad argument. Every verb exits with status 2 on it.
type UsageError struct {
	Msg string

	printed bool // the flag package already printed it with the usage
}

func (e *UsageError) Error() string { return e.Msg }

// usageErrorf returns a *UsageError with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// errNotWired is returned by verbs whose components are not built into this
// binary yet.
var errNotWired = errors.New("not wired yet")

// ConfigFlag is the --config flag that every verb takes.
type ConfigFlag struct {
	// Path is the file named by --config; empty when the flag was not given,
	// and then DefaultConfigPath is read if it exists.
	Path string
}

// String implements flag.Value.
func (f *ConfigFlag) String() string {
	if f == nil || f.Path == "" {
		return DefaultConfigPath
	}
	return f.Path
}

// Set implements flag.Value.
func (f *ConfigFlag) Set(s string) error {
	if s == "" {
		return errors.New("empty path")
	}
	f.Path = s
	return nil
}

// register adds --config to fs.
func (f *ConfigFlag) register(fs *flag.FlagSet) {
	fs.Var(f, "config", "read the config from `FILE` (default "+DefaultConfigPath+"; if that is missing, built-in defaults)")
}

// Load reads and validates the config. The error is a *ConfigError (or
// several joined) when the file is missing (given explicitly), unreadable,
// malformed or invalid.
func (f *ConfigFlag) Load() (Config, error) {
	cfg, err := LoadConfig(f.Path)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// newFlagSet returns the flag set of a verb. It returns errors rather than
// exiting, and its usage is the synopsis, the help text and the flags.
func newFlagSet(verb, synopsis, help string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("posagent "+verb, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: posagent %s %s\n\n%s\n\nFlags:\n", verb, synopsis, strings.TrimSpace(help))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with fs and returns the positional arguments, of
// which there must be between minArgs and maxArgs. Flags come first: a flag
// after an argument is a usage error rather than an argument, so that
// "checkouts ID --wait 30s" fails loudly instead of ignoring --wait.
func parseFlags(fs *flag.FlagSet, args []string, minArgs, maxArgs int) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &UsageError{Msg: err.Error(), printed: true}
	}
	rest := fs.Args()
	for _, a := range rest {
		if len(a) > 1 && a[0] == '-' {
			return nil, usageErrorf("flag %s after the arguments: put flags first", a)
		}
	}
	switch {
	case len(rest) < minArgs:
		return nil, usageErrorf("missing argument")
	case len(rest) > maxArgs:
		return nil, usageErrorf("unexpected argument %q", rest[maxArgs])
	}
	return rest, nil
}

// parseCheckoutID parses args for the verbs that name one checkout, which
// SPEC §8 writes before the flags (refund CHECKOUT_ID --amount …): flags
// are parsed on both sides of it, and exactly one CHECKOUT_ID must be
// given. verb says what the id is for in the usage error ("refund").
func parseCheckoutID(fs *flag.FlagSet, args []string, verb string) (string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return "", err
			}
			return "", &UsageError{Msg: err.Error(), printed: true}
		}
		if args = fs.Args(); len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	switch len(pos) {
	case 0:
		return "", usageErrorf("missing argument: the CHECKOUT_ID to %s", verb)
	case 1:
		return pos[0], nil
	}
	return "", usageErrorf("unexpected argument %q: give one CHECKOUT_ID", pos[1])
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// countSet returns how many of values are not empty.
func countSet(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}

// loadAndRun is the Run of a verb that needs the config: parse the flags,
// load and validate the config, then run.
func loadAndRun(ctx context.Context, args []string, parse func([]string) error, cfg *ConfigFlag, run func(context.Context, Config) error) error {
	if err := parse(args); err != nil {
		return err
	}
	c, err := cfg.Load()
	if err != nil {
		return err
	}
	return run(ctx, c)
}
