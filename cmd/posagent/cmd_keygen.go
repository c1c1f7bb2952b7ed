package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Names of the files keygen writes.
const (
	appPrivateKeyName = "app_private.pem"
	appPublicKeyName  = "app_public.pem"
)

// KeygenCommand implements "posagent keygen": it writes a new RSA key pair
// for the Alipay app, app_private.pem (PKCS#8, mode 0600) and app_public.pem
// (SPKI), and prints the public key's bare base64 body, which is what the
// merchant uploads to the Alipay open platform console.
type KeygenCommand struct {
	Streams
	Config ConfigFlag // accepted like on every verb; keygen does not read it
	Dir    string     // folder for the two files; required, created if missing
	Bits   int        // RSA modulus size in bits; default 2048
	Force  bool       // overwrite existing files
}

// ParseFlags reads the command line into c.
func (c *KeygenCommand) ParseFlags(args []string) error {
	fs := newFlagSet("keygen", "--dir DIR [--bits 2048] [--force]", `
Writes a new RSA key pair for the Alipay app under DIR:

  app_private.pem   the app's private key, PKCS#8 PEM, mode 0600
  app_public.pem    the app's public key, SPKI PEM

and prints the paths and the public key as bare base64 (public_key: ...).
Upload that value in the Alipay open platform console as the app's public key
(RSA2), then point alipay.app_private_key_file at app_private.pem. The
gateway's public key (alipay.alipay_public_key_file) comes from the console.

Existing files are never overwritten unless --force is given.`, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.Dir, "dir", "", "write the key files into `DIR` (required; created if missing)")
	fs.IntVar(&c.Bits, "bits", 2048, "RSA key size in bits: 2048, 3072 or 4096")
	fs.BoolVar(&c.Force, "force", false, "overwrite existing key files")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if c.Dir == "" {
		return usageErrorf("--dir is required")
	}
	switch c.Bits {
	case 2048, 3072, 4096:
	default:
		return usageErrorf("--bits must be 2048, 3072 or 4096, not %d", c.Bits)
	}
	return nil
}

// Run implements Command.
func (c *KeygenCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	privPath := filepath.Join(dir, appPrivateKeyName)
	pubPath := filepath.Join(dir, appPublicKeyName)
	if !c.Force {
		for _, p := range []string{privPath, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("keygen: %s exists; use --force to replace the key pair", p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("keygen: %w", err)
			}
		}
	}

	key, err := rsa.GenerateKey(rand.Reader, c.Bits)
	if err != nil {
		return fmt.Errorf("keygen: generate RSA key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("keygen: encode private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("keygen: encode public key: %w", err)
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	// Both files are written in full under temporary names before either is
	// renamed into place, so a failure never leaves half a pair.
	privTmp, err := writeTemp(dir, appPrivateKeyName, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	defer os.Remove(privTmp)
	pubTmp, err := writeTemp(dir, appPublicKeyName, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644)
	if err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	defer os.Remove(pubTmp)
	if err := os.Rename(privTmp, privPath); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	if err := os.Rename(pubTmp, pubPath); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}

	fmt.Fprintf(c.Stdout, "app_private_key: %s\napp_public_key: %s\npublic_key: %s\n",
		privPath, pubPath, base64.StdEncoding.EncodeToString(pubDER))
	fmt.Fprintf(c.Stderr, "Upload public_key in the Alipay open platform console as the app's public key (RSA2),\nand set alipay.app_private_key_file = %q in the config.\n", privPath)
	return nil
}

// writeTemp writes data to a new file in dir with the given mode, synced,
// and returns its name.
func writeTemp(dir, name string, data []byte, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	err = f.Chmod(mode) // on Windows only the read-only bit; the ACL of dir applies
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}
