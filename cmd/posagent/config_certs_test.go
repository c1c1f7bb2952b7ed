package main

import (
	"crypto/rand"
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

// certSandbox makes a certificate-mode sandbox whose files live in dir.
func certSandbox(tb testing.TB, dir string) sandbox.KeyPaths {
	tb.Helper()
	s, err := sandbox.New(sandbox.Config{Dir: dir, CertMode: true})
	if err != nil {
		tb.Fatal(err)
	}
	return s.KeyPaths()
}

func certConfig(p sandbox.KeyPaths) string {
	return `
[alipay]
gateway = "https://openapi.alipay.com/gateway.do"
app_id = "2021000000000001"
pay_pid = "2088702093900999"
app_private_key_file = "` + p.AppPrivate + `"
app_cert_file = "` + p.AppCert + `"
alipay_cert_file = "` + p.AlipayCert + `"
alipay_root_cert_file = "` + p.AlipayRootCert + `"
`
}

func TestValidateCertMode(t *testing.T) {
	base := t.TempDir()
	p := certSandbox(t, filepath.Join(base, "a"))
	other := certSandbox(t, filepath.Join(base, "b"))

	// An expired certificate of the right key.
	priv, err := gateway.LoadPrivateKeyFile(p.AppPrivate)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(5), Subject: pkix.Name{CommonName: "old"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	expired := filepath.Join(base, "expired.pem")
	os.WriteFile(expired, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)

	for _, tc := range []struct {
		name      string
		edit      func(string) string
		key, want string
		line      int
	}{
		{"right", func(s string) string { return s }, "", "", 0},
		{"public key beside certificates", func(s string) string {
			return s + `alipay_public_key_file = "` + p.AlipayPublic + `"` + "\n"
		}, "alipay.alipay_public_key_file", "not both", 10},
		{"certificate of another key", func(s string) string {
			return strings.Replace(s, p.AppCert, other.AppCert, 1)
		}, "alipay.app_cert_file", "is not the certificate of app_private_key_file", 7},
		{"expired certificate", func(s string) string {
			return strings.Replace(s, p.AppCert, expired, 1)
		}, "alipay.app_cert_file", "expired", 7},
		{"gateway certificate of another root", func(s string) string {
			return strings.Replace(s, p.AlipayCert, other.AlipayCert, 1)
		}, "alipay.alipay_cert_file", "does not chain to alipay_root_cert_file", 8},
		{"root bundle missing", func(s string) string {
			return strings.Replace(s, "alipay_root_cert_file = \""+p.AlipayRootCert+"\"\n", "", 1)
		}, "alipay.alipay_root_cert_file", "required in certificate mode", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeConfig(t, dir, tc.edit(certConfig(p)))
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if tc.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := newGatewayClient(cfg); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: no error")
			}
			var found *ConfigError
			for _, e := range configErrors(t, err) {
				if e.Key == tc.key {
					found = e
				}
			}
			if found == nil || found.File != path || found.Line != tc.line || !strings.Contains(found.Msg, tc.want) {
				t.Fatalf("got %v; want %s:%d %s: ...%s...", err, path, tc.line, tc.key, tc.want)
			}
		})
	}
}
