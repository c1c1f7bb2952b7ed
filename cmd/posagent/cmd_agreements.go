package main

import (
	"context"
	"fmt"

	"posagent/api"
	"posagent/gateway"
)

// AgreementsCommand implements "posagent agreements": a user's agreements
// (alipay.user.agreement.batch.query) through the daemon
// (GET /v1/users/{user_id}/agreements).
type AgreementsCommand struct {
	Streams
	Config              ConfigFlag
	UserID              string // the Alipay user; required
	PersonalProductCode string // the agreement product; required
	SignScene           string // optional
	ThirdPartyType      string // "PARTNER" or "MERCHANT"; optional
	ProductCode         string // optional
	JSON                bool   // print the daemon's JSON
}

// ParseFlags reads the command line into c.
func (c *AgreementsCommand) ParseFlags(args []string) error {
	fs := newFlagSet("agreements", "--user-id ID --personal-product-code CODE [--sign-scene SCENE] [--third-party-type TYPE] [--product-code CODE] [--json]", `
Lists the agreements a user has signed with the merchant
(alipay.user.agreement.batch.query).`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.UserID, "user-id", "", "the Alipay user `ID` (required)")
	fs.StringVar(&c.PersonalProductCode, "personal-product-code", "", "the agreement product `CODE` (required)")
	fs.StringVar(&c.SignScene, "sign-scene", "", "only agreements of this `SCENE`")
	fs.StringVar(&c.ThirdPartyType, "third-party-type", "", "PARTNER or MERCHANT")
	fs.StringVar(&c.ProductCode, "product-code", "", "only agreements for this product `CODE`")
	jsonFlag(fs, &c.JSON)
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	switch {
	case c.UserID == "":
		return usageErrorf("--user-id is required")
	case c.PersonalProductCode == "":
		return usageErrorf("--personal-product-code is required")
	case c.ThirdPartyType != "" && c.ThirdPartyType != "PARTNER" && c.ThirdPartyType != "MERCHANT":
		return usageErrorf("--third-party-type must be PARTNER or MERCHANT, not %q", c.ThirdPartyType)
	}
	return nil
}

// Run implements Command.
func (c *AgreementsCommand) Run(ctx context.Context, args []string) error {
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *AgreementsCommand) run(ctx context.Context, cfg Config) error {
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	as, err := cl.Agreements(ctx, c.UserID, api.AgreementsQuery{
		PersonalProductCode: c.PersonalProductCode, SignScene: c.SignScene,
		ThirdPartyType: c.ThirdPartyType, ProductCode: c.ProductCode,
	})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(c.Stdout, api.Items[gateway.Agreement]{Items: as})
	}
	if len(as) == 0 {
		fmt.Fprintf(c.Stdout, "no agreements for user %s\n", c.UserID)
		return nil
	}
	t := newTable(c.Stdout, "AGREEMENT_NO", "STATUS", "PRODUCT", "SIGN_SCENE", "THIRD_PARTY", "SIGNED", "VALID", "INVALID")
	for _, a := range as {
		t.row(a.AgreementNo, a.Status, a.PersonalProductCode, a.SignScene, a.ThirdPartyType, a.SignTime, a.ValidTime, a.InvalidTime)
	}
	return t.flush()
}
