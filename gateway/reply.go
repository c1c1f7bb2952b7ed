package gateway

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrBadReply is returned (wrapped) for a reply body that is not the JSON
// object the gateway sends: unparsable, without the response member, or with
// that member twice.
var ErrBadReply = errors.New("malformed gateway reply")

// ResponseKey is the member of the reply that carries the answer for method:
// "alipay.trade.pay" → "alipay_trade_pay_response".
func ResponseKey(method string) string {
	return strings.ReplaceAll(method, ".", "_") + "_response"
}

// ErrorResponseKey is the member the gateway uses when it cannot name the
// method (unknown method, missing app_id, ...).
const ErrorResponseKey = "error_response"

// Reply is a gateway reply split into its parts. Raw holds the exact bytes of
// the response member's value as they were sent: those, not a re-encoding,
// are what the signature covers.
type Reply struct {
	Key    string // ResponseKey(method) or ErrorResponseKey
	Raw    []byte // exact bytes of the value of Key
	Sign   string // top-level "sign"; empty when absent
	CertSN string // top-level "alipay_cert_sn" (certificate mode), when present
}

// ParseReply locates the response member for method (or error_response) in
// body with a JSON tokenizer, in any member order, and returns its exact
// bytes with the signature beside it. It does not verify; see VerifyReply.
// The bytes are not decoded from any charset first, so a GBK sub_msg cannot
// change what is verified.
func ParseReply(body []byte, method string) (*Reply, error) {
	want := ResponseKey(method)
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: not a JSON object", ErrBadReply)
	}
	r := &Reply{}
	var errRaw []byte
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadReply, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%w: member name expected", ErrBadReply)
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: member %q appears twice", ErrBadReply, key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadReply, err)
		}
		switch key {
		case want:
			r.Key, r.Raw = key, raw
		case ErrorResponseKey:
			errRaw = raw
		case "sign":
			if err := json.Unmarshal(raw, &r.Sign); err != nil {
				return nil, fmt.Errorf("%w: sign is not a string", ErrBadReply)
			}
		case "alipay_cert_sn":
			_ = json.Unmarshal(raw, &r.CertSN)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, fmt.Errorf("%w: unterminated object", ErrBadReply)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the object", ErrBadReply)
	}
	if r.Raw == nil {
		if errRaw == nil {
			return nil, fmt.Errorf("%w: no %s member", ErrBadReply, want)
		}
		r.Key, r.Raw = ErrorResponseKey, errRaw
	}
	if len(r.Raw) == 0 || r.Raw[0] != '{' {
		return nil, fmt.Errorf("%w: %s is not an object", ErrBadReply, r.Key)
	}
	return r, nil
}

// Verify checks the reply's signature over its exact response bytes.
// A missing or wrong signature wraps ErrBadSignature.
func (r *Reply) Verify(pub *rsa.PublicKey, t SignType) error {
	return Verify(r.Raw, r.Sign, pub, t)
}

// EncodeReply writes a reply the way the gateway does: the response member
// with value raw, followed by "sign" computed over exactly raw. It is what
// the sandbox sends; raw must be a JSON object.
func EncodeReply(key string, raw []byte, priv *rsa.PrivateKey, t SignType) ([]byte, error) {
	return EncodeCertReply(key, raw, "", priv, t)
}

// EncodeCertReply is EncodeReply for certificate mode: "alipay_cert_sn"
// (when certSN is not empty) goes between the response member and "sign".
func EncodeCertReply(key string, raw []byte, certSN string, priv *rsa.PrivateKey, t SignType) ([]byte, error) {
	sig, err := Sign(raw, priv, t)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(raw) + len(key) + len(sig) + len(certSN) + 40)
	b.WriteString(`{"`)
	b.WriteString(key)
	b.WriteString(`":`)
	b.Write(raw)
	if certSN != "" {
		b.WriteString(`,"alipay_cert_sn":"`)
		b.WriteString(certSN)
		b.WriteString(`"`)
	}
	b.WriteString(`,"sign":"`)
	b.WriteString(sig)
	b.WriteString(`"}`)
	return b.Bytes(), nil
}
