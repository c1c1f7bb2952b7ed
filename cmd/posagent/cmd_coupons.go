package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"posagent/api"
	"posagent/checkout"
)

// maxImportBytes caps a coupon file; the daemon refuses bigger bodies.
const maxImportBytes = api.MaxBodyBytes

// CouponsCommand implements "posagent coupons": list coupons, or import a
// JSON array of them.
type CouponsCommand struct {
	Streams
	Config ConfigFlag
	UserID string // list only this user's coupons; empty: all
	Import string // import the JSON array in this file; "-": stdin
	JSON   bool   // print the daemon's JSON
}

// ParseFlags reads the command line into c.
func (c *CouponsCommand) ParseFlags(args []string) error {
	fs := newFlagSet("coupons", "[list] [--user USER_ID] | import FILE | --import FILE", `
"list" (the default) lists coupons (GET /v1/coupons), optionally one user's.
"import FILE" (or --import FILE) sends the JSON array of coupons in FILE ("-"
for stdin) to POST /v1/coupons; re-importing an id updates it unless it is
reserved or redeemed. A coupon is
  {"id":"C1","user_id":"2088...","title":"5 off","kind":"amount_off",
   "value":"5.00","min_spend":"20.00","max_off":"5.00",
   "valid_from":"2026-01-01T00:00:00+08:00","valid_until":"2026-02-01T00:00:00+08:00"}
with kind amount_off or percent_off (value "10" = 10 % off); min_spend,
max_off and the validity times are optional. The state is posagent's.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.UserID, "user", "", "list only the coupons of Alipay user `USER_ID`")
	fs.StringVar(&c.Import, "import", "", "import the JSON array of coupons in `FILE` (- for stdin)")
	jsonFlag(fs, &c.JSON)
	sub, rest, err := parseSubverb(fs, args, []string{"list", "import"}, 0, 1)
	if err != nil {
		return err
	}
	if sub != "import" && len(rest) > 0 {
		return usageErrorf("unexpected argument %q", rest[0])
	}
	switch sub {
	case "import":
		switch {
		case len(rest) == 1 && c.Import != "":
			return usageErrorf("give the file once: import FILE or --import FILE")
		case len(rest) == 1:
			c.Import = rest[0]
		case c.Import == "":
			return usageErrorf("import needs the FILE of coupons (- for stdin)")
		}
	case "list":
		if c.Import != "" {
			return usageErrorf("--import does not go with list")
		}
	}
	if c.Import != "" && c.UserID != "" {
		return usageErrorf("--user lists coupons; it does not go with --import")
	}
	return nil
}

// Run implements Command.
func (c *CouponsCommand) Run(ctx context.Context, args []string) error {
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *CouponsCommand) run(ctx context.Context, cfg Config) error {
	var data []byte
	if c.Import != "" {
		var err error
		if data, err = c.readImport(); err != nil {
			return err
		}
	}
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	if c.Import != "" {
		res, err := cl.ImportCouponsJSON(ctx, data)
		if err != nil {
			return err
		}
		if c.JSON {
			return printJSON(c.Stdout, res)
		}
		fmt.Fprintf(c.Stdout, "imported %s: %d created, %d updated", c.importName(), res.Created, res.Updated)
		if len(res.Skipped) > 0 {
			fmt.Fprintf(c.Stdout, ", %d skipped (reserved or redeemed): %s", len(res.Skipped), strings.Join(res.Skipped, ", "))
		}
		fmt.Fprintln(c.Stdout)
		return nil
	}
	cs, err := cl.ListCoupons(ctx, c.UserID)
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(c.Stdout, api.Items[api.CouponJSON]{Items: api.CouponsJSON(cs)})
	}
	if len(cs) == 0 {
		fmt.Fprintln(c.Stdout, "no coupons")
		return nil
	}
	t := newTable(c.Stdout, "ID", "USER", "KIND", "VALUE", "MIN_SPEND", "MAX_OFF", "VALID_FROM", "VALID_UNTIL", "STATE", "TITLE")
	for _, cp := range cs {
		value := cp.Value.String()
		if cp.Kind == checkout.PercentOff {
			value = strings.TrimSuffix(strings.TrimRight(value, "0"), ".") + "%"
		}
		maxOff := ""
		if cp.MaxOff != nil {
			maxOff = cp.MaxOff.String()
		}
		t.row(cp.ID, cp.UserID, string(cp.Kind), value, cp.MinSpend.String(), maxOff, when(cp.ValidFrom), when(cp.ValidUntil), string(cp.State), cp.Title)
	}
	return t.flush()
}

func (c *CouponsCommand) importName() string {
	if c.Import == "-" {
		return "stdin"
	}
	return c.Import
}

// readImport reads the coupon file and checks that it holds a JSON array;
// the daemon checks the coupons.
func (c *CouponsCommand) readImport() ([]byte, error) {
	var r io.Reader = c.Stdin
	if c.Import != "-" {
		f, err := os.Open(c.Import)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", c.importName(), err)
	}
	if len(data) > maxImportBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes: split it into several imports", c.importName(), maxImportBytes)
	}
	var probe []json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%s must hold a JSON array of coupons: %v", c.importName(), err)
	}
	return data, nil
}
