package main

import (
	"path/filepath"

	"posagent/gateway"
)

// certDirName is the folder in data_dir that keeps gateway certificates
// fetched after Alipay rotated its certificate (certificate mode).
const certDirName = "alipay_certs"

// newGatewayClient makes the client for a real gateway from [alipay]: the
// app key, then either the Alipay public key or the three certificates,
// and app_auth_token. Errors are *ConfigError naming the key whose file
// cannot be used.
func newGatewayClient(cfg Config) (*gateway.Client, error) {
	a := cfg.Alipay
	bad := func(key string, err error) error {
		return &ConfigError{File: cfg.File, Key: "alipay." + key, Msg: err.Error(), Err: err}
	}
	priv, err := gateway.LoadPrivateKeyFile(a.AppPrivateKeyFile)
	if err != nil {
		return nil, bad("app_private_key_file", err)
	}
	c := &gateway.Client{
		URL: a.Gateway, AppID: a.AppID, SignType: gateway.SignType(a.SignType),
		PrivateKey: priv, AppAuthToken: a.AppAuthToken, Timeout: a.Timeout.Duration(),
	}
	if !a.CertMode() {
		if c.AlipayPublicKey, err = gateway.LoadPublicKeyFile(a.AlipayPublicKeyFile); err != nil {
			return nil, bad("alipay_public_key_file", err)
		}
		return c, nil
	}
	if c.AppCert, err = gateway.LoadCertChainFile(a.AppCertFile); err != nil {
		return nil, bad("app_cert_file", err)
	}
	if c.AlipayCert, err = gateway.LoadCertChainFile(a.AlipayCertFile); err != nil {
		return nil, bad("alipay_cert_file", err)
	}
	if c.AlipayRoot, err = gateway.LoadRootBundleFile(a.AlipayRootCertFile); err != nil {
		return nil, bad("alipay_root_cert_file", err)
	}
	c.CertDir = filepath.Join(cfg.Terminal.DataDir, certDirName)
	return c, nil
}
