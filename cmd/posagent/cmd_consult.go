package main

import (
	"context"
	"fmt"

	"posagent/api"
)

// ConsultCommand implements "posagent consult": scene.cooperation.consult
// for one user through the daemon (POST /v1/consult).
type ConsultCommand struct {
	Streams
	Config ConfigFlag
	Scene  string // the marketing scene; default marketing.consult_scene
	UserID string // exactly one of UserID, Mobile and Email
	Mobile string
	Email  string
	// InviteScene is sent as invite_scene; optional.
	InviteScene string
	JSON        bool // print the daemon's JSON
}

// ParseFlags reads the command line into c.
func (c *ConsultCommand) ParseFlags(args []string) error {
	fs := newFlagSet("consult", "[--scene SCENE] [--invite-scene SCENE] (--user-id ID | --mobile NUMBER | --email ADDRESS) [--json]", `
Asks Alipay whether a user may take part in a marketing scene
(alipay.user.scene.cooperation.consult) and prints the answer.`+apiHelp, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.Scene, "scene", "", "the marketing `SCENE` (default marketing.consult_scene)")
	fs.StringVar(&c.UserID, "user-id", "", "the Alipay user `ID`")
	fs.StringVar(&c.Mobile, "mobile", "", "the user's mobile `NUMBER`")
	fs.StringVar(&c.Email, "email", "", "the user's email `ADDRESS`")
	fs.StringVar(&c.InviteScene, "invite-scene", "", "also ask about this invite `SCENE`")
	jsonFlag(fs, &c.JSON)
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if countSet(c.UserID, c.Mobile, c.Email) != 1 {
		return usageErrorf("give exactly one of --user-id, --mobile and --email")
	}
	return nil
}

// Run implements Command.
func (c *ConsultCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	cfg, err := c.Config.Load()
	if err != nil {
		return err
	}
	if c.Scene == "" {
		c.Scene = cfg.Marketing.ConsultScene
	}
	if c.Scene == "" {
		return usageErrorf("--scene is required when marketing.consult_scene is empty")
	}
	return c.run(ctx, cfg)
}

func (c *ConsultCommand) run(ctx context.Context, cfg Config) error {
	cl, err := apiClient(ctx, cfg)
	if err != nil {
		return err
	}
	r, err := cl.Consult(ctx, api.ConsultRequest{UserID: c.UserID, Mobile: c.Mobile, Email: c.Email, Scene: c.Scene, InviteScene: c.InviteScene})
	if err != nil {
		return err
	}
	if c.JSON {
		return printJSON(c.Stdout, r)
	}
	t := newTable(c.Stdout)
	t.row("scene", r.Scene)
	t.row("consult_result", fmt.Sprint(r.ConsultResult))
	if r.InviteResult != nil {
		t.row("invite_result", *r.InviteResult)
	}
	return t.flush()
}
