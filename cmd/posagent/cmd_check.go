package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// CheckCommand implements "posagent check": it signs harmless calls with the
// configured keys or certificates against the configured gateway and says,
// in words, what is right and what is wrong.
type CheckCommand struct {
	Streams
	Config ConfigFlag
}

// checkTradeNo is the out_trade_no check queries: posagent never pays under
// it, so the gateway answers ACQ.TRADE_NOT_EXIST and nothing changes.
const checkTradeNo = "posagent_check"

// checkCode is the payment code check decodes to test pay_pid: the
// sandbox's ILLEGAL_CODE test code, a code no buyer holds.
const checkCode = sandbox.TestCodeMarker + "06" + "0" + "00000000"

// errCheckFailed is check's error when it found something wrong (exit 1);
// the findings are printed already.
var errCheckFailed = errors.New("something is wrong (see above)")

// ParseFlags reads the command line into c.
func (c *CheckCommand) ParseFlags(args []string) error {
	fs := newFlagSet("check", "[--config FILE]", `
Checks the [alipay] configuration against the configured gateway: it signs a
harmless alipay.trade.query (of a number posagent never pays under) and a
two-stage decode of a code no buyer holds, and says in words whether app_id,
the app key, the Alipay public key or certificates, pay_pid and
app_auth_token are right. Nothing is paid, nothing changes.

Exit status 0 when everything is right, 1 when something is wrong.`, c.Stderr)
	c.Config.register(fs)
	_, err := parseFlags(fs, args, 0, 0)
	return err
}

// Run implements Command.
func (c *CheckCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(c.Config.Path)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(c.Stdout, "WRONG  the config: %v\n", strings.ReplaceAll(err.Error(), "\n", "\n       "))
		return errCheckFailed
	}
	if wrong := runCheck(ctx, cfg, c.Stdout); wrong > 0 {
		return fmt.Errorf("%d of the checks found something wrong (see above)", wrong)
	}
	return nil
}

// checker prints findings and counts the wrong ones.
type checker struct {
	w     io.Writer
	wrong int
}

func (k *checker) ok(format string, args ...any) {
	fmt.Fprintf(k.w, "ok     "+format+"\n", args...)
}

func (k *checker) bad(format string, args ...any) {
	k.wrong++
	fmt.Fprintf(k.w, "WRONG  "+format+"\n", args...)
}

func (k *checker) note(format string, args ...any) {
	fmt.Fprintf(k.w, "       "+format+"\n", args...)
}

// runCheck checks cfg against its gateway, writes the findings to w and
// returns how many are wrong.
func runCheck(ctx context.Context, cfg Config, w io.Writer) int {
	k := &checker{w: w}
	a := cfg.Alipay
	var gw *gateway.Client
	if a.Sandbox() {
		sb, err := sandbox.New(sandbox.Config{Dir: filepath.Join(cfg.Terminal.DataDir, "sandbox")})
		if err != nil {
			k.bad("the embedded sandbox cannot start: %v", err)
			return k.wrong
		}
		gw = sb.Client()
		if a.PayPID == "" {
			a.PayPID = sb.PayPID()
		}
		fmt.Fprintf(w, "gateway: the embedded sandbox (gateway = \"sandbox\"); set [alipay] gateway to check a real one\n")
	} else {
		c, err := newGatewayClient(cfg)
		if err != nil {
			k.bad("%v", err)
			return k.wrong
		}
		gw = c
		mode := "public key mode"
		if a.CertMode() {
			mode = fmt.Sprintf("certificate mode: app_cert_sn %s, alipay_root_cert_sn %s, alipay_cert_sn %s", c.AppCert.SN, c.AlipayRoot.SN, c.AlipayCert.SN)
		}
		fmt.Fprintf(w, "gateway: %s (%s)\n", a.Gateway, mode)
		if !k.localKeys(cfg, c) {
			return k.wrong
		}
	}
	gw.Timeout = a.Timeout.Duration()

	_, err := gw.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: checkTradeNo})
	if !k.signedCall(cfg, gw, err) {
		k.note("pay_pid not checked: fix the above first")
		return k.wrong
	}
	if sn := gw.Health().AlipayCertSN; gw.AlipayCert != nil && sn != gw.AlipayCert.SN {
		k.note("Alipay now signs with gateway certificate %s (fetched, checked against the root bundle, kept in data_dir/%s); alipay_cert_file may be updated when convenient", sn, certDirName)
	}
	_, err = gw.TwoStageUse(ctx, gateway.TwoStageUseRequest{
		DynamicID: checkCode, PayPID: a.PayPID,
		SenceNo: fmt.Sprintf("check_%d", time.Now().UnixNano()),
	})
	k.payPID(a.PayPID, err)
	if k.wrong == 0 {
		fmt.Fprintln(w, "everything is right")
	}
	return k.wrong
}

// localKeys checks what needs no gateway: the Alipay key is not the app's
// own. It reports false when calling the gateway would tell nothing more.
func (k *checker) localKeys(cfg Config, c *gateway.Client) bool {
	a := cfg.Alipay
	k.ok("app key file: %s holds an RSA private key (%d bits)", a.AppPrivateKeyFile, c.PrivateKey.N.BitLen())
	if a.CertMode() {
		if pub, err := c.AlipayCert.PublicKey(); err == nil && pub.Equal(&c.PrivateKey.PublicKey) {
			k.bad("alipay_cert_file holds the APP's certificate, not Alipay's: download alipayCertPublicKey_RSA2.crt from the console")
			return false
		}
		return true
	}
	if c.AlipayPublicKey.Equal(&c.PrivateKey.PublicKey) {
		k.bad("alipay_public_key_file holds the APP's public key, not Alipay's: copy the Alipay public key (支付宝公钥) from the console, not the app public key (应用公钥) you uploaded")
		return false
	}
	return true
}

// signedCall reads the answer to the harmless trade.query. It reports
// whether the app_id, the keys and the token are right.
func (k *checker) signedCall(cfg Config, gw *gateway.Client, err error) bool {
	a := cfg.Alipay
	var ge *gateway.Error
	errors.As(err, &ge)
	switch {
	case gateway.IsUnreachable(err):
		k.bad("the gateway %s cannot be reached: %v (check the URL, the network and any proxy)", a.Gateway, err)
		return false
	case ge != nil && ge.Unverified:
		claim := ""
		if ge.Code != "" {
			claim = fmt.Sprintf(" (it says %s %s %s %s, unverified)", ge.Code, ge.Msg, ge.SubCode, ge.SubMsg)
		}
		if a.CertMode() {
			k.bad("Alipay's reply does not verify with alipay_cert_file / alipay_root_cert_file%s: use the gateway certificate (alipayCertPublicKey_RSA2.crt) and root bundle (alipayRootCert.crt) of this app_id", claim)
		} else {
			k.bad("Alipay's reply does not verify with alipay_public_key_file%s: it is not the Alipay public key (支付宝公钥) of this app_id", claim)
		}
		if ge.SubCode != "" {
			k.claimed(ge.SubCode)
		}
		return false
	case gateway.KindOf(err) == gateway.Unauthorized:
		if a.AppAuthToken == "" {
			k.bad("app_auth_token is missing: the gateway wants the merchant's token (%s); set [alipay] app_auth_token", ge.SubCode)
		} else {
			k.bad("app_auth_token is refused (%s %s): it is wrong or expired; ask the merchant to authorise the app again", ge.SubCode, ge.SubMsg)
		}
		k.ok("app_id %s: Alipay knows it", gw.AppID)
		k.okKeys(cfg)
		return false
	case gateway.KindOf(err) == gateway.Rejected:
		switch ge.SubCode {
		case "isv.invalid-app-id", "isv.missing-app-id":
			k.bad("app_id %s: Alipay does not know it (%s)", gw.AppID, ge.SubCode)
		case "isv.invalid-signature":
			k.bad("app key: Alipay cannot verify the request with the app public key (or app certificate) registered for app_id %s: app_private_key_file is not the key whose public half was uploaded", a.AppID)
		case "isv.invalid-app-cert-sn", "isv.missing-app-cert-sn":
			k.bad("app_cert_file: Alipay does not know this app certificate (app_cert_sn %s): use the app certificate (appCertPublicKey_*.crt) issued for app_id %s", certSN(gw.AppCert), a.AppID)
		case "isv.invalid-alipay-root-cert-sn", "isv.missing-alipay-root-cert-sn":
			k.bad("alipay_root_cert_file: Alipay does not accept this root bundle (alipay_root_cert_sn %s): use alipayRootCert.crt from the console", rootSN(gw.AlipayRoot))
		default:
			k.bad("the gateway refused the request: %s %s (%s: %s)", ge.Code, ge.Msg, ge.SubCode, ge.SubMsg)
		}
		return false
	case gateway.KindOf(err) == gateway.Unknown:
		k.bad("the gateway gave no clear answer: %v (try again)", err)
		return false
	}
	// Success, or a business answer (ACQ.TRADE_NOT_EXIST): signed by the
	// app, verified by posagent.
	k.ok("app_id %s: Alipay knows it", gw.AppID)
	k.okKeys(cfg)
	if a.AppAuthToken != "" {
		k.ok("app_auth_token: accepted")
	}
	return true
}

// okKeys says that both signatures checked out.
func (k *checker) okKeys(cfg Config) {
	a := cfg.Alipay
	k.ok("app key: Alipay verified the request signed with app_private_key_file")
	switch {
	case a.Sandbox():
		k.ok("Alipay key: the sandbox's reply verified")
	case a.CertMode():
		k.ok("Alipay certificate: the reply verified with alipay_cert_file, which chains to alipay_root_cert_file; app_cert_sn and alipay_root_cert_sn accepted")
	default:
		k.ok("Alipay key: the reply verified with alipay_public_key_file")
	}
}

// claimed explains what an unverified reply's sub_code would mean.
func (k *checker) claimed(sub string) {
	switch sub {
	case "isv.invalid-signature":
		k.note("the reply also says the app key is wrong: app_private_key_file may not match the app public key registered for app_id")
	case "isv.invalid-app-id":
		k.note("the reply also says app_id is unknown")
	}
}

// payPID reads the answer to the decode of checkCode.
func (k *checker) payPID(pid string, err error) {
	var ge *gateway.Error
	errors.As(err, &ge)
	switch gateway.KindOf(err) {
	case gateway.Success:
		k.ok("pay_pid %s: the two-stage decode accepts it", pid)
		return
	case gateway.Failure:
		if ge.SubCode == "INPUT_ILLEGAL" {
			k.bad("pay_pid %s: the two-stage decode refuses it (%s %s): use the merchant PID (2088…) the two-stage API was opened for", pid, ge.SubCode, ge.SubMsg)
			return
		}
		// ILLEGAL_CODE and the like: the request, pay_pid included, passed.
		k.ok("pay_pid %s: the two-stage decode accepts it (it answered %s for a code no buyer holds, as expected)", pid, ge.SubCode)
		return
	case gateway.Rejected:
		k.bad("pay_pid %s: the two-stage decode is refused: %s %s (%s: %s); is alipay.user.twostage.common.use enabled for this app?", pid, ge.Code, ge.Msg, ge.SubCode, ge.SubMsg)
		return
	}
	k.bad("pay_pid %s: not confirmed, the decode gave no clear answer: %v", pid, err)
}

func certSN(c *gateway.CertChain) string {
	if c == nil {
		return "none"
	}
	return c.SN
}

func rootSN(r *gateway.RootBundle) string {
	if r == nil {
		return "none"
	}
	return r.SN
}
