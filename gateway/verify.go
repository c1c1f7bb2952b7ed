package gateway

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// verifyReply checks r's signature with the key that must have made it: in
// certificate mode the gateway certificate its alipay_cert_sn names
// (fetched when new), otherwise AlipayPublicKey. A reply whose '/' arrive
// escaped as `\/` but were signed unescaped verifies on a second try, as
// in the Java SDK.
func (c *Client) verifyReply(ctx context.Context, method string, r *Reply) error {
	pub, err := c.replyKey(ctx, method, r)
	if err != nil {
		return err
	}
	st := c.SignType
	if st == "" {
		st = RSA2
	}
	err = r.Verify(pub, st)
	if err != nil && r.Sign != "" && bytes.Contains(r.Raw, []byte(`\/`)) {
		if Verify(bytes.ReplaceAll(r.Raw, []byte(`\/`), []byte(`/`)), r.Sign, pub, st) == nil {
			return nil
		}
	}
	return err
}

// replyKey returns the public key r must verify with.
func (c *Client) replyKey(ctx context.Context, method string, r *Reply) (*rsa.PublicKey, error) {
	s := c.certs
	if s == nil {
		if c.AlipayPublicKey == nil {
			return nil, fmt.Errorf("%w: no Alipay public key configured", ErrBadSignature)
		}
		return c.AlipayPublicKey, nil
	}
	if r.CertSN == "" {
		// Some error replies carry no alipay_cert_sn: the certificate in use.
		return s.current(), nil
	}
	if k := s.get(r.CertSN); k != nil {
		return k, nil
	}
	if method == MethodAlipayCertDownload {
		return nil, fmt.Errorf("%w: certificate download signed with unknown gateway certificate %s", ErrBadSignature, r.CertSN)
	}
	return c.fetchCert(ctx, r.CertSN)
}

// unverifiedError is the Unknown result of a reply that failed
// verification: what it claims is kept, marked unverified.
func unverifiedError(method string, r *Reply, err error) *Error {
	e := &Error{Method: method, Kind: Unknown, Unverified: true, Err: err}
	var claim commonResponse
	raw := r.Raw
	if !utf8.Valid(raw) {
		if u, derr := gb18030ToUTF8(raw); derr == nil {
			raw = u
		}
	}
	if json.Unmarshal(raw, &claim) == nil {
		e.Code, e.Msg, e.SubCode, e.SubMsg = claim.Code, claim.Msg, claim.SubCode, claim.SubMsg
	}
	return e
}

// gb18030ToUTF8 decodes GBK/GB18030 bytes (a superset of ASCII, so valid
// ASCII JSON is unchanged).
func gb18030ToUTF8(b []byte) ([]byte, error) {
	return simplifiedchinese.GB18030.NewDecoder().Bytes(b)
}

// unmarshalWhole decodes raw into a fresh value of out's type and stores it
// in out only when all of raw decoded: out is never left half-filled.
func unmarshalWhole(raw []byte, out any) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return json.Unmarshal(raw, out)
	}
	fresh := reflect.New(rv.Elem().Type())
	if err := json.Unmarshal(raw, fresh.Interface()); err != nil {
		return err
	}
	rv.Elem().Set(fresh.Elem())
	return nil
}

// certStore holds certificate mode's SNs and the gateway certificates
// trusted so far.
type certStore struct {
	appSN, rootSN string
	root          *RootBundle
	dir           string

	mu     sync.RWMutex
	keys   map[string]*rsa.PublicKey
	inUse  string // SN of the certificate replies are signed with now
	fetchM sync.Mutex
}

// newCertStore sets up certificate mode, or returns nil in public key mode.
func (c *Client) newCertStore() (*certStore, error) {
	if c.AppCert == nil && c.AlipayCert == nil && c.AlipayRoot == nil {
		return nil, nil
	}
	if c.AppCert == nil || c.AlipayCert == nil || c.AlipayRoot == nil {
		return nil, fmt.Errorf("%w: certificate mode needs the app certificate, the Alipay certificate and the root bundle", ErrBadCert)
	}
	key, err := c.AlipayCert.PublicKey()
	if err != nil {
		return nil, err
	}
	s := &certStore{
		appSN: c.AppCert.SN, rootSN: c.AlipayRoot.SN, root: c.AlipayRoot, dir: c.CertDir,
		keys: map[string]*rsa.PublicKey{c.AlipayCert.SN: key}, inUse: c.AlipayCert.SN,
	}
	if s.dir != "" {
		files, _ := filepath.Glob(filepath.Join(s.dir, "alipay_cert_*.pem"))
		for _, f := range files {
			ch, err := LoadCertChainFile(f)
			if err != nil || c.AlipayRoot.Verify(ch, c.now()) != nil {
				continue
			}
			if k, err := ch.PublicKey(); err == nil {
				s.keys[ch.SN] = k
			}
		}
	}
	return s, nil
}

func (s *certStore) get(sn string) *rsa.PublicKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys[sn]
}

func (s *certStore) current() *rsa.PublicKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys[s.inUse]
}

func (s *certStore) currentSN() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.inUse
}

// alipayCertDownloadResponse is the reply of alipay.open.app.alipaycert.download.
type alipayCertDownloadResponse struct {
	Common
	// AlipayCertContent is the certificate file (PEM), base64-encoded.
	AlipayCertContent string `json:"alipay_cert_content"`
}

// fetchCert downloads the gateway certificate sn, checks that it chains to
// the root bundle, keeps it (in memory and in CertDir) and returns its key.
// One download at a time; errors wrap ErrBadSignature, since the reply
// that named sn cannot be verified without it.
func (c *Client) fetchCert(ctx context.Context, sn string) (*rsa.PublicKey, error) {
	s := c.certs
	s.fetchM.Lock()
	defer s.fetchM.Unlock()
	if k := s.get(sn); k != nil {
		return k, nil
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: reply signed with gateway certificate %s, which could not be fetched: %s", ErrBadSignature, sn, fmt.Sprintf(format, args...))
	}
	body, err := c.send(ctx, MethodAlipayCertDownload, map[string]string{"alipay_cert_sn": sn})
	if err != nil {
		return nil, fail("%v", err)
	}
	r, err := ParseReply(body, MethodAlipayCertDownload)
	if err != nil {
		return nil, fail("%v", err)
	}
	var resp alipayCertDownloadResponse
	if err := json.Unmarshal(r.Raw, &resp); err != nil {
		return nil, fail("%v", err)
	}
	if resp.Code != "10000" {
		return nil, fail("%s %s %s %s", resp.Code, resp.Msg, resp.SubCode, resp.SubMsg)
	}
	pemBytes, err := base64.StdEncoding.DecodeString(resp.AlipayCertContent)
	if err != nil {
		return nil, fail("alipay_cert_content is not base64")
	}
	chain, err := ParseCertChain(pemBytes)
	if err != nil {
		return nil, fail("%v", err)
	}
	if chain.SN != sn {
		return nil, fail("the certificate sent has SN %s", chain.SN)
	}
	if err := s.root.Verify(chain, c.now()); err != nil {
		return nil, fail("it does not chain to the root bundle: %v", err)
	}
	key, err := chain.PublicKey()
	if err != nil {
		return nil, fail("%v", err)
	}
	// The download's own reply must verify, with the key its SN names.
	vk := s.get(r.CertSN)
	switch {
	case r.CertSN == sn:
		vk = key
	case r.CertSN == "":
		vk = s.current()
	}
	st := c.SignType
	if st == "" {
		st = RSA2
	}
	if vk == nil || r.Verify(vk, st) != nil {
		return nil, fail("the download reply does not verify")
	}
	s.mu.Lock()
	s.keys[sn] = key
	s.inUse = sn
	s.mu.Unlock()
	if s.dir != "" {
		path := filepath.Join(s.dir, "alipay_cert_"+sn+".pem")
		if err := writeFileAtomic(path, pemBytes); err != nil && c.Logger != nil {
			c.Logger.Warn().Err(err).Str("event", "gateway_cert_keep").Msg("cannot keep the new gateway certificate; it is fetched again after a restart")
		}
	}
	if c.Logger != nil {
		c.Logger.Info().Str("event", "gateway_cert_rotated").Str("alipay_cert_sn", sn).
			Msg("Alipay's gateway certificate changed; the new one chains to the root bundle and is now used")
	}
	return key, nil
}

// writeFileAtomic writes data beside path and renames it into place.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
