package gateway

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// SignType names the signature algorithm: RSA2 is SHA256withRSA (the
// default and Alipay's recommendation), RSA is SHA1withRSA.
type SignType string

// The two sign types the OpenAPI accepts.
const (
	RSA2 SignType = "RSA2"
	RSA  SignType = "RSA"
)

// ErrBadSignature means a signature is missing or does not verify. A reply
// carrying it is never treated as a success.
var ErrBadSignature = errors.New("signature missing or invalid")

func (t SignType) hash() (crypto.Hash, error) {
	switch t {
	case RSA2, "":
		return crypto.SHA256, nil
	case RSA:
		return crypto.SHA1, nil
	}
	return 0, fmt.Errorf("unknown sign_type %q (want RSA2 or RSA)", string(t))
}

func digest(h crypto.Hash, content []byte) []byte {
	if h == crypto.SHA1 {
		d := sha1.Sum(content)
		return d[:]
	}
	d := sha256.Sum256(content)
	return d[:]
}

// SignContent builds the string that is signed for a request: every
// non-empty parameter except "sign", sorted by key, joined as k=v with '&',
// values raw (not URL-encoded).
func SignContent(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if k == "sign" || v == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}

// Sign signs content with key (PKCS#1 v1.5) and returns the standard base64
// signature.
func Sign(content []byte, key *rsa.PrivateKey, t SignType) (string, error) {
	h, err := t.hash()
	if err != nil {
		return "", err
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, digest(h, content))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// Verify checks a base64 signature over content. Any failure, including an
// empty or undecodable signature, wraps ErrBadSignature.
func Verify(content []byte, sig string, key *rsa.PublicKey, t SignType) error {
	h, err := t.hash()
	if err != nil {
		return err
	}
	if sig == "" {
		return fmt.Errorf("%w: no sign", ErrBadSignature)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("%w: sign is not base64", ErrBadSignature)
	}
	if err := rsa.VerifyPKCS1v15(key, h, digest(h, content), raw); err != nil {
		return fmt.Errorf("%w: does not verify", ErrBadSignature)
	}
	return nil
}
