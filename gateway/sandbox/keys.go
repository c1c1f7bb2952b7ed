package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"posagent/gateway"
)

// KeyBits is the size of the keys the sandbox generates.
const KeyBits = 2048

// Key file names inside Config.Dir.
const (
	AppPrivateFile    = "app_private.pem"
	AppPublicFile     = "app_public.pem"
	AlipayPrivateFile = "alipay_private.pem"
	AlipayPublicFile  = "alipay_public.pem"
)

// KeyPaths are the key files of a sandbox (all empty when Config.Dir was).
// A merchant-side client needs AppPrivate and AlipayPublic.
type KeyPaths struct {
	AppPrivate    string // app private key, PKCS#8 PEM: signs requests
	AppPublic     string // app public key, SPKI PEM: the sandbox verifies requests
	AlipayPrivate string // gateway private key, PKCS#8 PEM: the sandbox signs replies
	AlipayPublic  string // gateway public key, SPKI PEM: clients verify replies
	// Certificate mode only (Config.CertMode):
	AppCert        string // app certificate, PEM: its SN goes in app_cert_sn
	AlipayCert     string // gateway certificate, PEM: clients verify replies
	AlipayRootCert string // root bundle, PEM: its SN goes in alipay_root_cert_sn
}

// keySet holds both key pairs.
type keySet struct {
	app    *rsa.PrivateKey
	alipay *rsa.PrivateKey
}

// loadOrCreateKeys loads the two key pairs from dir, generating what is
// missing. An empty dir means keys in memory only.
func loadOrCreateKeys(dir string) (keySet, KeyPaths, error) {
	if dir == "" {
		app, err := rsa.GenerateKey(rand.Reader, KeyBits)
		if err != nil {
			return keySet{}, KeyPaths{}, fmt.Errorf("sandbox: generate app key: %w", err)
		}
		alipay, err := rsa.GenerateKey(rand.Reader, KeyBits)
		if err != nil {
			return keySet{}, KeyPaths{}, fmt.Errorf("sandbox: generate gateway key: %w", err)
		}
		return keySet{app: app, alipay: alipay}, KeyPaths{}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return keySet{}, KeyPaths{}, fmt.Errorf("sandbox: key folder: %w", err)
	}
	p := KeyPaths{
		AppPrivate:    filepath.Join(dir, AppPrivateFile),
		AppPublic:     filepath.Join(dir, AppPublicFile),
		AlipayPrivate: filepath.Join(dir, AlipayPrivateFile),
		AlipayPublic:  filepath.Join(dir, AlipayPublicFile),
	}
	app, err := loadOrCreatePair(p.AppPrivate, p.AppPublic)
	if err != nil {
		return keySet{}, KeyPaths{}, err
	}
	alipay, err := loadOrCreatePair(p.AlipayPrivate, p.AlipayPublic)
	if err != nil {
		return keySet{}, KeyPaths{}, err
	}
	return keySet{app: app, alipay: alipay}, p, nil
}

// loadOrCreatePair returns the private key at privPath, generating it when
// absent, and makes sure pubPath holds its public half. A public key file
// whose private half is gone, or that does not match it, is an error: some
// client may be configured with it, so it is never overwritten.
func loadOrCreatePair(privPath, pubPath string) (*rsa.PrivateKey, error) {
	priv, err := gateway.LoadPrivateKeyFile(privPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat(pubPath); err == nil {
			return nil, fmt.Errorf("sandbox: %s exists but %s does not; remove %s to generate a new pair", pubPath, privPath, pubPath)
		}
		priv, err = rsa.GenerateKey(rand.Reader, KeyBits)
		if err != nil {
			return nil, fmt.Errorf("sandbox: generate %s: %w", privPath, err)
		}
		pem, err := gateway.EncodePrivateKeyPEM(priv)
		if err != nil {
			return nil, fmt.Errorf("sandbox: encode %s: %w", privPath, err)
		}
		if err := writeFileAtomic(privPath, pem, 0o600); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("sandbox: %w", err)
	}

	pub, err := gateway.LoadPublicKeyFile(pubPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		pem, err := gateway.EncodePublicKeyPEM(&priv.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("sandbox: encode %s: %w", pubPath, err)
		}
		if err := writeFileAtomic(pubPath, pem, 0o644); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("sandbox: %w", err)
	case !pub.Equal(&priv.PublicKey):
		return nil, fmt.Errorf("sandbox: %s is not the public half of %s", pubPath, privPath)
	}
	return priv, nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// into place, so a crash never leaves half a key behind.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("sandbox: write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sandbox: write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sandbox: write %s: %w", path, err)
	}
	return nil
}
