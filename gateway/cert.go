package gateway

import (
	"crypto/md5"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"
)

// ErrBadCert is returned (wrapped) for certificate material that cannot be
// used: not PEM certificates, not RSA where RSA is needed, not chaining to
// the root bundle, expired.
var ErrBadCert = errors.New("unusable certificate")

// rsaSignatureOIDPrefix is the prefix of the RSA signature algorithm OIDs
// (sha1WithRSAEncryption, sha256WithRSAEncryption, …): only root
// certificates signed so count in alipay_root_cert_sn, as in the SDKs.
const rsaSignatureOIDPrefix = "1.2.840.113549.1.1"

// certFields are the parts of a certificate an SN is made of, read with a
// plain ASN.1 walk, so that certificates crypto/x509 cannot parse (Alipay's
// root bundle holds an SM2 root) still count.
type certFields struct {
	TBS struct {
		Version   int `asn1:"optional,explicit,default:0,tag:0"`
		Serial    *big.Int
		SigAlg    pkix.AlgorithmIdentifier
		Issuer    asn1.RawValue
		Validity  asn1.RawValue
		Subject   asn1.RawValue
		PublicKey asn1.RawValue
		Rest      []asn1.RawValue `asn1:"optional"`
	}
	SigAlg pkix.AlgorithmIdentifier
	Sig    asn1.BitString
}

// CertSNOf returns the SN of a DER certificate: the MD5 hex of its issuer
// DN, written most specific attribute first as "CN=…,OU=…,O=…,C=…" (the
// order and form the official SDKs use), followed by its serial number in
// decimal.
func CertSNOf(der []byte) (string, error) {
	f, err := readCertFields(der)
	if err != nil {
		return "", err
	}
	return certSN(f)
}

func readCertFields(der []byte) (*certFields, error) {
	var f certFields
	if _, err := asn1.Unmarshal(der, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCert, err)
	}
	if f.TBS.Serial == nil {
		return nil, fmt.Errorf("%w: no serial number", ErrBadCert)
	}
	return &f, nil
}

func certSN(f *certFields) (string, error) {
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(f.TBS.Issuer.FullBytes, &rdns); err != nil {
		return "", fmt.Errorf("%w: issuer: %v", ErrBadCert, err)
	}
	sum := md5.Sum([]byte(issuerDN(rdns) + f.TBS.Serial.String()))
	return hex.EncodeToString(sum[:]), nil
}

// attrShortNames are the short names the SDKs write in an issuer DN.
var attrShortNames = map[string]string{
	"2.5.4.3":              "CN",
	"2.5.4.6":              "C",
	"2.5.4.7":              "L",
	"2.5.4.8":              "ST",
	"2.5.4.10":             "O",
	"2.5.4.11":             "OU",
	"2.5.4.5":              "SERIALNUMBER",
	"2.5.4.9":              "STREET",
	"2.5.4.17":             "POSTALCODE",
	"1.2.840.113549.1.9.1": "E",
}

// issuerDN writes rdns last attribute first, "type=value" joined by ",".
func issuerDN(rdns pkix.RDNSequence) string {
	var parts []string
	for i := len(rdns) - 1; i >= 0; i-- {
		for j := len(rdns[i]) - 1; j >= 0; j-- {
			atv := rdns[i][j]
			name, ok := attrShortNames[atv.Type.String()]
			if !ok {
				name = atv.Type.String()
			}
			parts = append(parts, fmt.Sprintf("%s=%v", name, atv.Value))
		}
	}
	return strings.Join(parts, ",")
}

// RootCertSN returns alipay_root_cert_sn for a root bundle (PEM): the SNs of
// its RSA-signed certificates joined with "_". Certificates of other
// algorithms are skipped; a bundle without any RSA certificate is an error.
func RootCertSN(bundle []byte) (string, error) {
	ders, err := pemCerts(bundle)
	if err != nil {
		return "", err
	}
	var sns []string
	for _, der := range ders {
		f, err := readCertFields(der)
		if err != nil {
			return "", err
		}
		if !strings.HasPrefix(f.SigAlg.Algorithm.String(), rsaSignatureOIDPrefix) {
			continue
		}
		sn, err := certSN(f)
		if err != nil {
			return "", err
		}
		sns = append(sns, sn)
	}
	if len(sns) == 0 {
		return "", fmt.Errorf("%w: no RSA certificate in the root bundle", ErrBadCert)
	}
	return strings.Join(sns, "_"), nil
}

// pemCerts returns the DER bytes of every CERTIFICATE block in data.
func pemCerts(data []byte) ([][]byte, error) {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no PEM CERTIFICATE block", ErrBadCert)
	}
	return out, nil
}

// CertChain is a certificate as the gateway and the SDKs hand it out: the
// leaf first, then any intermediates, all PEM in one file.
type CertChain struct {
	Leaf          *x509.Certificate
	Intermediates []*x509.Certificate
	// SN is the leaf's SN (see CertSNOf).
	SN string
}

// PublicKey returns the leaf's RSA public key.
func (c *CertChain) PublicKey() (*rsa.PublicKey, error) {
	k, ok := c.Leaf.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the certificate's key is %T, not RSA", ErrBadCert, c.Leaf.PublicKey)
	}
	return k, nil
}

// ParseCertChain reads a PEM certificate file: the first certificate is the
// leaf, the rest its intermediates.
func ParseCertChain(data []byte) (*CertChain, error) {
	ders, err := pemCerts(data)
	if err != nil {
		return nil, err
	}
	c := &CertChain{}
	for i, der := range ders {
		x, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadCert, err)
		}
		if i == 0 {
			c.Leaf = x
		} else {
			c.Intermediates = append(c.Intermediates, x)
		}
	}
	if c.SN, err = CertSNOf(ders[0]); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadCertChainFile reads ParseCertChain's input from path; errors name it.
func LoadCertChainFile(path string) (*CertChain, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	c, err := ParseCertChain(data)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", path, err)
	}
	return c, nil
}

// RootBundle is Alipay's root certificate bundle.
type RootBundle struct {
	// SN is alipay_root_cert_sn (see RootCertSN).
	SN string
	// Pool holds the roots crypto/x509 can parse, to check chains with.
	Pool *x509.CertPool
}

// ParseRootBundle reads a root bundle (PEM). Roots crypto/x509 cannot parse
// (SM2) count in SN but cannot anchor a chain.
func ParseRootBundle(data []byte) (*RootBundle, error) {
	sn, err := RootCertSN(data)
	if err != nil {
		return nil, err
	}
	ders, _ := pemCerts(data)
	rb := &RootBundle{SN: sn, Pool: x509.NewCertPool()}
	for _, der := range ders {
		if x, err := x509.ParseCertificate(der); err == nil {
			rb.Pool.AddCert(x)
		}
	}
	return rb, nil
}

// LoadRootBundleFile reads ParseRootBundle's input from path; errors name it.
func LoadRootBundleFile(path string) (*RootBundle, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("root certificate bundle: %w", err)
	}
	rb, err := ParseRootBundle(data)
	if err != nil {
		return nil, fmt.Errorf("root certificate bundle %s: %w", path, err)
	}
	return rb, nil
}

// Verify checks that chain leads to one of the roots and is valid at now.
func (rb *RootBundle) Verify(chain *CertChain, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range chain.Intermediates {
		inter.AddCert(c)
	}
	_, err := chain.Leaf.Verify(x509.VerifyOptions{
		Roots: rb.Pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadCert, err)
	}
	return nil
}
