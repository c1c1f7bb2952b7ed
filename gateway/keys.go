package gateway

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrBadKey is returned (wrapped) when key material cannot be read as an RSA key.
var ErrBadKey = errors.New("not an RSA key")

// ParsePrivateKey reads an RSA private key as PKCS#1 PEM ("RSA PRIVATE KEY"),
// PKCS#8 PEM ("PRIVATE KEY") or the bare base64 body of either, which is what
// the Alipay key tool produces.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	der, err := keyDER(data)
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: PKCS#8 key is %T", ErrBadKey, k)
		}
		return rk, nil
	}
	k, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: neither PKCS#8 nor PKCS#1 private key", ErrBadKey)
	}
	return k, nil
}

// ParsePublicKey reads an RSA public key as SPKI PEM ("PUBLIC KEY"), PKCS#1
// PEM ("RSA PUBLIC KEY") or the bare base64 body of either.
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	der, err := keyDER(data)
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: public key is %T", ErrBadKey, k)
		}
		return rk, nil
	}
	k, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: neither SPKI nor PKCS#1 public key", ErrBadKey)
	}
	return k, nil
}

// keyDER returns the DER bytes of a PEM block or of a bare base64 body
// (whitespace and line breaks inside it are ignored).
func keyDER(data []byte) ([]byte, error) {
	if block, _ := pem.Decode(data); block != nil {
		return block.Bytes, nil
	}
	s := strings.Join(strings.Fields(string(data)), "")
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadKey)
	}
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: neither PEM nor base64", ErrBadKey)
	}
	return der, nil
}

// LoadPrivateKeyFile reads and parses a private key file; errors name the file.
func LoadPrivateKeyFile(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	k, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return k, nil
}

// LoadPublicKeyFile reads and parses a public key file; errors name the file.
func LoadPublicKeyFile(path string) (*rsa.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	k, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return k, nil
}

// EncodePrivateKeyPEM returns key as PKCS#8 PEM.
func EncodePrivateKeyPEM(key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// EncodePublicKeyPEM returns key as SPKI PEM.
func EncodePublicKeyPEM(key *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
