package main

import (
	"crypto/rsa"
	"fmt"
	"os"
	"time"

	"posagent/gateway"
)

// certMode validates the certificate mode keys of [alipay]: all three
// files set and readable, no alipay_public_key_file beside them, the app
// certificate holding the public half of app_private_key_file, no
// certificate expired, and the gateway certificate chaining to the root
// bundle.
func (v *validator) certMode(a AlipayConfig, now time.Time) {
	if a.AlipayPublicKeyFile != "" {
		v.fail("alipay.alipay_public_key_file", "set either alipay_public_key_file (public key mode) or app_cert_file, alipay_cert_file and alipay_root_cert_file (certificate mode), not both")
	}
	files := []struct{ key, path string }{
		{"alipay.app_cert_file", a.AppCertFile},
		{"alipay.alipay_cert_file", a.AlipayCertFile},
		{"alipay.alipay_root_cert_file", a.AlipayRootCertFile},
	}
	ok := true
	for _, f := range files {
		if f.path == "" {
			v.fail(f.key, "required in certificate mode (app_cert_file, alipay_cert_file and alipay_root_cert_file go together)")
			ok = false
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			v.fail(f.key, fmt.Sprintf("cannot read certificate file: %v", err))
			ok = false
		}
	}
	if !ok {
		return
	}
	app, err := gateway.LoadCertChainFile(a.AppCertFile)
	if err != nil {
		v.fail("alipay.app_cert_file", err.Error())
	} else {
		v.notExpired("alipay.app_cert_file", app, now)
		if priv, err := gateway.LoadPrivateKeyFile(a.AppPrivateKeyFile); err == nil {
			if pub, ok := app.Leaf.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&priv.PublicKey) {
				v.fail("alipay.app_cert_file", fmt.Sprintf("%s is not the certificate of app_private_key_file (its public key is another one); download the app certificate issued for this key", a.AppCertFile))
			}
		}
	}
	root, err := gateway.LoadRootBundleFile(a.AlipayRootCertFile)
	if err != nil {
		v.fail("alipay.alipay_root_cert_file", err.Error())
	}
	gw, err := gateway.LoadCertChainFile(a.AlipayCertFile)
	if err != nil {
		v.fail("alipay.alipay_cert_file", err.Error())
		return
	}
	if _, err := gw.PublicKey(); err != nil {
		v.fail("alipay.alipay_cert_file", err.Error())
	}
	if v.notExpired("alipay.alipay_cert_file", gw, now) && root != nil {
		if err := root.Verify(gw, now); err != nil {
			v.fail("alipay.alipay_cert_file", fmt.Sprintf("%s does not chain to alipay_root_cert_file: %v", a.AlipayCertFile, err))
		}
	}
}

// notExpired fails key when the certificate is outside its validity.
func (v *validator) notExpired(key string, c *gateway.CertChain, now time.Time) bool {
	switch {
	case now.After(c.Leaf.NotAfter):
		v.fail(key, fmt.Sprintf("the certificate expired on %s; download a new one from the Alipay console", c.Leaf.NotAfter.Format(time.DateOnly)))
		return false
	case now.Before(c.Leaf.NotBefore):
		v.fail(key, fmt.Sprintf("the certificate is valid only from %s (is the clock right?)", c.Leaf.NotBefore.Format(time.DateTime)))
		return false
	}
	return true
}
