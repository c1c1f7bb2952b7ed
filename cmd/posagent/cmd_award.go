package main

import (
	"context"
	"fmt"
)

// AwardCommand implements "posagent award": invite.award.receive for one
// user through the daemon (POST /v1/awards), queued while offline.
type AwardCommand struct {
	Streams
	Config     ConfigFlag
	Mobile     string // exactly one of Mobile and UserID
	UserID     string
	OutBizNo   string // the caller's number for this award, its idempotency key; required
	OutBizCode string // the caller's business code; optional
}

// ParseFlags reads the command line into c.
func (c *AwardCommand) ParseFlags(args []string) error {
	fs := newFlagSet("award", "(--mobile NUMBER | --user-id ID) --out-biz-no NO [--out-biz-code CODE]", `
Receives an invite award for a user (alipay.user.invite.award.receive). The
daemon queues it when the gateway is unreachable; --out-biz-no makes repeats
of the same award harmless.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.Mobile, "mobile", "", "the user's mobile `NUMBER`")
	fs.StringVar(&c.UserID, "user-id", "", "the Alipay user `ID`")
	fs.StringVar(&c.OutBizNo, "out-biz-no", "", "your unique number `NO` for this award (required)")
	fs.StringVar(&c.OutBizCode, "out-biz-code", "", "your business `CODE`")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	switch {
	case countSet(c.Mobile, c.UserID) != 1:
		return usageErrorf("give exactly one of --mobile and --user-id")
	case c.OutBizNo == "":
		return usageErrorf("--out-biz-no is required")
	}
	return nil
}

// Run implements Command.
func (c *AwardCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	cfg, err := c.Config.Load()
	if err != nil {
		return err
	}
	return c.run(ctx, cfg)
}

func (c *AwardCommand) run(ctx context.Context, cfg Config) error {
	return fmt.Errorf("%w: the local API client is not built in", errNotWired)
}
