package main

import (
	"context"
	"fmt"
	"strconv"

	"posagent/api"
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
	JSON       bool   // print the daemon's JSON
}

// ParseFlags reads the command line into c.
func (c *AwardCommand) ParseFlags(args []string) error {
	fs := newFlagSet("award", "(--mobile NUMBER | --user-id ID) --out-biz-no NO [--out-biz-code CODE] [--json]", `
Receives an invite award for a user (alipay.user.invite.award.receive). The
daemon queues it when the gateway is unreachable and sends it when Alipay is
back; --out-biz-no makes repeats of the same award harmless: running the
command again shows the result of the first, never a second award.
Exits 0 when the award is done or queued, 1 when it failed.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.Mobile, "mobile", "", "the user's mobile `NUMBER`")
	fs.StringVar(&c.UserID, "user-id", "", "the Alipay user `ID`")
	fs.StringVar(&c.OutBizNo, "out-biz-no", "", "your unique number `NO` for this award (required)")
	fs.StringVar(&c.OutBizCode, "out-biz-code", "", "your business `CODE`")
	jsonFlag(fs, &c.JSON)
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
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *AwardCommand) run(ctx context.Context, cfg Config) error {
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	r, err := cl.Award(ctx, api.AwardRequest{Mobile: c.Mobile, UserID: c.UserID, OutBizNo: c.OutBizNo, OutBizCode: c.OutBizCode})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(c.Stdout, r)
	}
	if r.Queued {
		fmt.Fprintf(c.Stdout, "award %s is queued (job %d): it is sent as soon as Alipay answers. Run the same command again to see the result.\n", r.OutBizNo, r.Job.ID)
		if r.Job.LastError != "" {
			fmt.Fprintf(c.Stdout, "last error: %s\n", r.Job.LastError)
		}
		return nil
	}
	t := newTable(c.Stdout)
	t.row("out_biz_no", r.OutBizNo)
	t.row("job", strconv.FormatUint(r.Job.ID, 10))
	if res := r.Result; res != nil {
		t.row("biz_result_code", res.BizResultCode)
		t.row("biz_result_desc", res.BizResultDesc)
		if res.Mobile != "" {
			t.row("mobile", res.Mobile)
		}
		if res.AlipayAccountNo != "" {
			t.row("alipay_account_no", res.AlipayAccountNo)
		}
		if res.UserAttr != "" {
			t.row("user_attr", res.UserAttr)
		}
	}
	return t.flush()
}
