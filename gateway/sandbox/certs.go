package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"posagent/gateway"
)

// Certificate files inside Config.Dir in certificate mode.
const (
	AppCertFile        = "app_cert.pem"         // the app certificate (app public key)
	AlipayCertFile     = "alipay_cert.pem"      // the gateway certificate (gateway public key)
	AlipayRootCertFile = "alipay_root_cert.pem" // the root bundle: an RSA root and an ECDSA root
	RootPrivateFile    = "root_private.pem"     // the RSA root's key, to issue rotated gateway certificates
)

// certValidity is how long the sandbox's certificates are valid.
const certValidity = 10 * 365 * 24 * time.Hour

// certState is certificate mode: the SNs a request must carry and the
// gateway certificates issued so far (the newest signs replies).
type certState struct {
	appSN, rootSN string
	appPEM        []byte
	rootPEM       []byte
	rootCert      *x509.Certificate
	rootKey       *rsa.PrivateKey

	mu      sync.RWMutex
	gateway map[string]gatewayCert // by SN, every certificate ever issued
	current string                 // SN of the certificate that signs replies
	first   string                 // SN of the certificate in AlipayCertFile
}

// gatewayCert is one gateway certificate and its key.
type gatewayCert struct {
	key *rsa.PrivateKey
	pem []byte
}

// current returns the key and SN replies are signed with now.
func (c *certState) signer() (*rsa.PrivateKey, string) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gateway[c.current].key, c.current
}

func (c *certState) certPEM(sn string) ([]byte, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	g, ok := c.gateway[sn]
	return g.pem, ok
}

// newCertState loads the certificates from dir, or issues them the first
// time (with keys.app and keys.alipay as the app's and the first gateway
// certificate's keys). An empty dir keeps everything in memory.
func newCertState(dir string, keys keySet, appID string, paths *KeyPaths) (*certState, error) {
	c := &certState{gateway: map[string]gatewayCert{}}
	var appPath, gwPath, rootPath, rootKeyPath string
	if dir != "" {
		appPath, gwPath = filepath.Join(dir, AppCertFile), filepath.Join(dir, AlipayCertFile)
		rootPath, rootKeyPath = filepath.Join(dir, AlipayRootCertFile), filepath.Join(dir, RootPrivateFile)
		paths.AppCert, paths.AlipayCert, paths.AlipayRootCert = appPath, gwPath, rootPath
	}
	loaded, err := c.load(appPath, gwPath, rootPath, rootKeyPath)
	if err != nil {
		return nil, err
	}
	if !loaded {
		if err := c.issueAll(keys, appID); err != nil {
			return nil, err
		}
		if dir != "" {
			rootKeyPEM, err := gateway.EncodePrivateKeyPEM(c.rootKey)
			if err != nil {
				return nil, err
			}
			gwPEM, _ := c.certPEM(c.current)
			for _, f := range []struct {
				path string
				data []byte
				perm os.FileMode
			}{{rootKeyPath, rootKeyPEM, 0o600}, {rootPath, c.rootPEM, 0o644}, {appPath, c.appPEM, 0o644}, {gwPath, gwPEM, 0o644}} {
				if err := writeFileAtomic(f.path, f.data, f.perm); err != nil {
					return nil, err
				}
			}
		}
	}
	var cerr error
	if c.appSN, cerr = snOfPEM(c.appPEM); cerr != nil {
		return nil, cerr
	}
	if c.rootSN, cerr = gateway.RootCertSN(c.rootPEM); cerr != nil {
		return nil, fmt.Errorf("sandbox: %w", cerr)
	}
	// The certificates must hold the keys the sandbox uses.
	app, _ := gateway.ParseCertChain(c.appPEM)
	if k, err := app.PublicKey(); err != nil || !k.Equal(&keys.app.PublicKey) {
		return nil, fmt.Errorf("sandbox: %s does not hold the public half of %s; remove the certificate files to issue new ones", AppCertFile, AppPrivateFile)
	}
	return c, nil
}

// load reads existing certificate files; false when there are none.
func (c *certState) load(appPath, gwPath, rootPath, rootKeyPath string) (bool, error) {
	if appPath == "" {
		return false, nil
	}
	rootKey, err := gateway.LoadPrivateKeyFile(rootKeyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sandbox: %w", err)
	}
	read := func(p string) []byte {
		if err != nil {
			return nil
		}
		var b []byte
		b, err = os.ReadFile(p)
		return b
	}
	c.rootPEM, c.appPEM = read(rootPath), read(appPath)
	gwPEM := read(gwPath)
	if err != nil {
		return false, fmt.Errorf("sandbox: %w", err)
	}
	c.rootKey = rootKey
	roots, err := parsePEMCerts(c.rootPEM)
	if err != nil {
		return false, fmt.Errorf("sandbox: %s: %w", rootPath, err)
	}
	c.rootCert = roots[0]
	keys := filepath.Join(filepath.Dir(gwPath), AlipayPrivateFile)
	gwKey, err := gateway.LoadPrivateKeyFile(keys)
	if err != nil {
		return false, fmt.Errorf("sandbox: %w", err)
	}
	sn, err := snOfPEM(gwPEM)
	if err != nil {
		return false, err
	}
	c.gateway[sn] = gatewayCert{key: gwKey, pem: gwPEM}
	c.current, c.first = sn, sn
	return true, nil
}

// issueAll makes the root bundle, the app certificate and the first
// gateway certificate.
func (c *certState) issueAll(keys keySet, appID string) error {
	rootKey, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return fmt.Errorf("sandbox: generate root key: %w", err)
	}
	rootName := pkix.Name{Country: []string{"CN"}, Organization: []string{"posagent sandbox"},
		OrganizationalUnit: []string{"Certification Authority"}, CommonName: "posagent Sandbox Root CA RSA"}
	rootDER, err := issue(rootName, &rootKey.PublicKey, nil, rootKey, true)
	if err != nil {
		return err
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("sandbox: generate ECDSA root key: %w", err)
	}
	ecName := pkix.Name{Country: []string{"CN"}, Organization: []string{"posagent sandbox"},
		OrganizationalUnit: []string{"Certification Authority"}, CommonName: "posagent Sandbox Root CA ECDSA"}
	ecDER, err := issue(ecName, &ecKey.PublicKey, nil, ecKey, true)
	if err != nil {
		return err
	}
	c.rootKey = rootKey
	if c.rootCert, err = x509.ParseCertificate(rootDER); err != nil {
		return err
	}
	c.rootPEM = append(pemCert(rootDER), pemCert(ecDER)...)
	appDER, err := issue(pkix.Name{Country: []string{"CN"}, Organization: []string{"posagent sandbox merchant"}, CommonName: appID},
		&keys.app.PublicKey, c.rootCert, rootKey, false)
	if err != nil {
		return err
	}
	c.appPEM = pemCert(appDER)
	_, err = c.issueGateway(keys.alipay)
	return err
}

// issueGateway issues a gateway certificate for key (a new key when nil),
// makes it the one that signs replies and returns its SN.
func (c *certState) issueGateway(key *rsa.PrivateKey) (string, error) {
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, KeyBits); err != nil {
			return "", fmt.Errorf("sandbox: generate gateway key: %w", err)
		}
	}
	der, err := issue(pkix.Name{Country: []string{"CN"}, Organization: []string{"posagent sandbox"},
		OrganizationalUnit: []string{"Alipay gateway"}, CommonName: "posagent sandbox gateway"},
		&key.PublicKey, c.rootCert, c.rootKey, false)
	if err != nil {
		return "", err
	}
	sn, err := gateway.CertSNOf(der)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.gateway[sn] = gatewayCert{key: key, pem: pemCert(der)}
	c.current = sn
	if c.first == "" {
		c.first = sn
	}
	c.mu.Unlock()
	return sn, nil
}

// issue makes a certificate for pub signed by parent's key (self-signed
// when parent is nil).
func issue(name pkix.Name, pub any, parent *x509.Certificate, signer any, ca bool) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      name,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sandbox: issue certificate %s: %w", name.CommonName, err)
	}
	return der, nil
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func parsePEMCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		x, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate")
	}
	return out, nil
}

func snOfPEM(data []byte) (string, error) {
	ch, err := gateway.ParseCertChain(data)
	if err != nil {
		return "", fmt.Errorf("sandbox: %w", err)
	}
	return ch.SN, nil
}

// RotateCert issues a new gateway certificate with a new key and signs
// replies with it from now on (POST /sandbox/rotate-cert); clients fetch it
// with alipay.open.app.alipaycert.download. It returns the new SN. Errors:
// the sandbox is not in certificate mode.
func (s *Sandbox) RotateCert() (string, error) {
	if s.certs == nil {
		return "", errors.New("sandbox: not in certificate mode (--cert-mode)")
	}
	sn, err := s.certs.issueGateway(nil)
	if err == nil && s.cfg.Logger != nil {
		s.cfg.Logger.Info().Str("event", "sandbox_cert_rotated").Str("alipay_cert_sn", sn).Msg("sandbox gateway certificate rotated")
	}
	return sn, err
}

// serveRotateCert answers POST /sandbox/rotate-cert with {"alipay_cert_sn": SN}.
func (s *Sandbox) serveRotateCert(w http.ResponseWriter, _ *http.Request) {
	sn, err := s.RotateCert()
	if err != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"alipay_cert_sn": sn})
}

// alipayCertDownloadResponse is the reply of alipay.open.app.alipaycert.download.
type alipayCertDownloadResponse struct {
	gateway.Common
	// AlipayCertContent is the certificate file (PEM), base64-encoded.
	AlipayCertContent string `json:"alipay_cert_content,omitempty"`
}

// alipayCertDownload answers alipay.open.app.alipaycert.download: the
// gateway certificate named by biz_content's alipay_cert_sn.
func (s *Sandbox) alipayCertDownload(req *request, _ time.Time) any {
	var in struct {
		SN string `json:"alipay_cert_sn"`
	}
	if err := json.Unmarshal(req.biz, &in); err != nil || in.SN == "" {
		return missing("isv.missing-alipay-cert-sn", "缺少支付宝公钥证书序列号")
	}
	if s.certs == nil {
		return fail("CERT_NOT_EXIST", "应用未启用公钥证书模式")
	}
	p, ok := s.certs.certPEM(in.SN)
	if !ok {
		return fail("CERT_NOT_EXIST", "证书不存在")
	}
	return alipayCertDownloadResponse{Common: success, AlipayCertContent: base64.StdEncoding.EncodeToString(p)}
}
