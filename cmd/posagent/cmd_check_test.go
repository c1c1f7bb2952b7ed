package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// checkEnv is a sandbox on loopback and a config for it.
type checkEnv struct {
	sb   *sandbox.Sandbox
	dir  string
	keys sandbox.KeyPaths
}

func newCheckEnv(t *testing.T, cfg sandbox.Config) *checkEnv {
	t.Helper()
	cfg.Dir = filepath.Join(t.TempDir(), "sandbox")
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return &checkEnv{sb: sb, dir: t.TempDir(), keys: sb.KeyPaths()}
}

// config returns the [alipay] table for the sandbox, with set applied
// (key → value, "" removes the key).
func (e *checkEnv) config(set map[string]string) string {
	kv := map[string]string{
		"gateway": e.sb.URL(), "app_id": e.sb.AppID(), "pay_pid": e.sb.PayPID(),
		"app_private_key_file": e.keys.AppPrivate, "alipay_public_key_file": e.keys.AlipayPublic,
		"timeout": "5s",
	}
	if e.keys.AppCert != "" {
		delete(kv, "alipay_public_key_file")
		kv["app_cert_file"], kv["alipay_cert_file"], kv["alipay_root_cert_file"] = e.keys.AppCert, e.keys.AlipayCert, e.keys.AlipayRootCert
	}
	for k, v := range set {
		if v == "" {
			delete(kv, k)
		} else {
			kv[k] = v
		}
	}
	var b strings.Builder
	b.WriteString("[terminal]\ndata_dir = \"" + filepath.Join(e.dir, "data") + "\"\n[alipay]\n")
	for k, v := range kv {
		b.WriteString(k + " = \"" + v + "\"\n")
	}
	return b.String()
}

func (e *checkEnv) check(t *testing.T, set map[string]string) (int, string) {
	t.Helper()
	cfg, err := LoadConfig(writeConfig(t, t.TempDir(), e.config(set)))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wrong := runCheck(ctx, cfg, &out)
	return wrong, out.String()
}

// TestCheck runs posagent check's logic against the sandbox for the right
// config and each common mistake, and wants the mistake named.
func TestCheck(t *testing.T) {
	pub := newCheckEnv(t, sandbox.Config{})
	strangerKey := filepath.Join(t.TempDir(), "stranger.pem")
	k, err := rsaKey()
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := gateway.EncodePrivateKeyPEM(k)
	os.WriteFile(strangerKey, keyPEM, 0o600)

	isv := newCheckEnv(t, sandbox.Config{AppAuthToken: "202612BB_merchant"})
	cert := newCheckEnv(t, sandbox.Config{CertMode: true})
	cert2 := newCheckEnv(t, sandbox.Config{CertMode: true})
	reissued := reissuedAppCert(t, cert.keys.AppPrivate)

	for _, tc := range []struct {
		name  string
		env   *checkEnv
		set   map[string]string
		wrong bool
		want  string
	}{
		{"right, public key mode", pub, nil, false, "everything is right"},
		{"wrong app key", pub, map[string]string{"app_private_key_file": strangerKey}, true, "WRONG  app key: Alipay cannot verify the request"},
		{"app public key as Alipay key", pub, map[string]string{"alipay_public_key_file": pub.keys.AppPublic}, true, "alipay_public_key_file holds the APP's public key, not Alipay's"},
		{"wrong Alipay key", pub, map[string]string{"alipay_public_key_file": isv.keys.AlipayPublic}, true, "WRONG  Alipay's reply does not verify with alipay_public_key_file"},
		{"wrong pay_pid", pub, map[string]string{"pay_pid": "2088000000000000"}, true, "WRONG  pay_pid 2088000000000000: the two-stage decode refuses it"},
		{"wrong app_id", pub, map[string]string{"app_id": "2021000000000999"}, true, "WRONG  app_id 2021000000000999: Alipay does not know it"},
		{"right, service provider", isv, map[string]string{"app_auth_token": "202612BB_merchant"}, false, "ok     app_auth_token: accepted"},
		{"missing app_auth_token", isv, nil, true, "WRONG  app_auth_token is missing"},
		{"wrong app_auth_token", isv, map[string]string{"app_auth_token": "202612BB_other"}, true, "WRONG  app_auth_token is refused"},
		{"right, certificate mode", cert, nil, false, "everything is right"},
		{"certificate SN mismatch", cert, map[string]string{"app_cert_file": reissued}, true, "WRONG  app_cert_file: Alipay does not know this app certificate"},
		{"app certificate as Alipay certificate", cert, map[string]string{"alipay_cert_file": cert.keys.AppCert}, true, "WRONG  alipay_cert_file holds the APP's certificate, not Alipay's"},
		{"another gateway's certificates", cert, map[string]string{"alipay_cert_file": cert2.keys.AlipayCert, "alipay_root_cert_file": cert2.keys.AlipayRootCert}, true, "WRONG  Alipay's reply does not verify with alipay_cert_file / alipay_root_cert_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wrong, out := tc.env.check(t, tc.set)
			if (wrong > 0) != tc.wrong || !strings.Contains(out, tc.want) {
				t.Fatalf("wrong = %d, output:\n%s\nwant %q", wrong, out, tc.want)
			}
		})
	}

	// The verb: exit 1 with the mistake on stdout, 0 when right.
	path := writeConfig(t, t.TempDir(), pub.config(map[string]string{"pay_pid": "2088000000000000"}))
	if code, stdout, _ := runMain(t, "check", "--config", path); code != 1 || !strings.Contains(stdout, "pay_pid") {
		t.Fatalf("check = %d\n%s", code, stdout)
	}
	path = writeConfig(t, t.TempDir(), pub.config(nil))
	if code, stdout, stderr := runMain(t, "check", "--config", path); code != 0 {
		t.Fatalf("check = %d\n%s%s", code, stdout, stderr)
	}
}

// reissuedAppCert is a certificate of the same app key that the gateway has
// not registered (another SN).
func reissuedAppCert(t *testing.T, keyPath string) string {
	t.Helper()
	priv, err := gateway.LoadPrivateKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "reissued"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "reissued.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func rsaKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }
