package main

import (
	"context"
	"fmt"
)

// CouponsCommand implements "posagent coupons": list coupons, or import a
// JSON array of them.
type CouponsCommand struct {
	Streams
	Config ConfigFlag
	UserID string // list only this user's coupons; empty: all
	Import string // import the JSON array in this file; "-": stdin
}

// ParseFlags reads the command line into c.
func (c *CouponsCommand) ParseFlags(args []string) error {
	fs := newFlagSet("coupons", "[--user USER_ID] | --import FILE", `
Without --import, lists coupons (GET /v1/coupons), optionally one user's.
With --import, sends the JSON array of coupons in FILE ("-" for stdin) to
POST /v1/coupons; re-importing an id updates it unless it is reserved or
redeemed.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.UserID, "user", "", "list only the coupons of Alipay user `USER_ID`")
	fs.StringVar(&c.Import, "import", "", "import the JSON array of coupons in `FILE` (- for stdin)")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if c.Import != "" && c.UserID != "" {
		return usageErrorf("--user lists coupons; it does not go with --import")
	}
	return nil
}

// Run implements Command.
func (c *CouponsCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	cfg, err := c.Config.Load()
	if err != nil {
		return err
	}
	return c.run(ctx, cfg)
}

func (c *CouponsCommand) run(ctx context.Context, cfg Config) error {
	return fmt.Errorf("%w: the local API client is not built in", errNotWired)
}
