package checkout_test

import (
	"strings"
	"testing"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// Issue 11: with the wrong Alipay public key (every reply fails
// verification) the cashier was told "Alipay cannot be reached" after the
// decode retry window. Now the first unverifiable decode reply sends the
// checkout back to a scan with GATEWAY_UNVERIFIED and a message that says
// the payment system is set up wrongly, and an error-level line names the
// key.
func TestUnverifiedDecodeIsASetupProblem(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	sb.SetFaults(sandbox.Faults{BadSign: 1, Methods: []string{gateway.MethodTwoStageUse}})
	c := env.mustCreate(1000)
	env.mustScan(NormalCode())
	c = env.waitFor(c.ID, "awaiting_scan with an error", func(c checkout.Checkout) bool {
		return c.State == checkout.AwaitingScan && c.Error != nil
	})
	if c.Error.Code != checkout.CodeReplyUnverified || !strings.Contains(c.Error.Message, "set up wrongly") {
		t.Fatalf("error %+v", c.Error)
	}
	if !strings.Contains(env.Logs.String(), "alipay_public_key_file") {
		t.Error("no log line names the Alipay key")
	}
}

// Issue 11: a service provider's refused app_auth_token (20001) is not an
// outage and is never retried as one: the decode stops at once and the
// cashier is told the shop's authorisation was refused.
func TestRefusedAppAuthTokenIsNamed(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{AppAuthToken: "merchant-token-1"})
	gw := sb.Client()
	gw.AppAuthToken = "" // the merchant's token is missing from the config
	env := openEngine(t, gw, "", checkout.Options{PayPID: sb.PayPID()})
	c := env.mustCreate(1000)
	env.mustScan(NormalCode())
	c = env.waitFor(c.ID, "awaiting_scan with an error", func(c checkout.Checkout) bool {
		return c.State == checkout.AwaitingScan && c.Error != nil
	})
	if c.Error.Code != checkout.CodeAppAuthRefused || !strings.Contains(c.Error.Message, "app_auth_token") {
		t.Fatalf("error %+v", c.Error)
	}
}
