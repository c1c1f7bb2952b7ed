package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"

	"posagent/api"
)

// apiAddr is the address to dial for the daemon listening on listen: an
// unspecified host (":8089", "0.0.0.0:8089", "[::]:8089") is dialled on
// loopback.
func apiAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// apiClient returns a client of the daemon that cfg describes, with the
// token from api.token_file. When the token cannot be read, it tells a
// daemon that is not running (it creates the token on its first start)
// from a token file that is missing for another reason.
func apiClient(ctx context.Context, cfg Config) (*api.Client, error) {
	cl := api.NewClient("http://"+apiAddr(cfg.API.Listen), "")
	tok, err := api.ReadToken(cfg.API.TokenFile)
	if err != nil {
		var nr *api.NotRunningError
		if herr := cl.Health(ctx); errors.As(herr, &nr) {
			return nil, nr
		}
		return nil, err
	}
	cl.Token = tok
	return cl, nil
}

// parseSubverb parses args with fs like parseFlags, but the first
// positional argument may be one of subverbs ("coupons import FILE", "jobs
// retry ID"), with flags before and after it. It returns the subverb (""
// when none was given) and the other positional arguments.
func parseSubverb(fs *flag.FlagSet, args []string, subverbs []string, minArgs, maxArgs int) (string, []string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", nil, err
		}
		return "", nil, &UsageError{Msg: err.Error(), printed: true}
	}
	rest := fs.Args()
	sub := ""
	if len(rest) > 0 && slices.Contains(subverbs, rest[0]) {
		sub, rest = rest[0], rest[1:]
	}
	rest, err := parseFlags(fs, rest, minArgs, maxArgs)
	return sub, rest, err
}

// jsonFlag registers --json on fs.
func jsonFlag(fs *flag.FlagSet, p *bool) {
	fs.BoolVar(p, "json", false, "print the daemon's JSON reply instead of a table")
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("print JSON: %w", err)
	}
	return nil
}
