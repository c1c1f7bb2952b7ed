package sandbox

import (
	"time"

	"github.com/rs/zerolog"
)

// Defaults for the zero values of Config fields.
const (
	DefaultAppID          = "2021000000000001"
	DefaultPayPID         = "2088702093900999"
	DefaultCodeTTL        = 60 * time.Second
	DefaultCancelWindow   = 24 * time.Hour
	DefaultReplyCacheSize = 1024
)

// TimestampWindow is how far a request's timestamp may be from the sandbox
// clock, either way, before the request is refused isv.invalid-timestamp.
const TimestampWindow = 15 * time.Minute

// maxBodyBytes caps a request body; the SDKs never come near it.
const maxBodyBytes = 1 << 20

// Config sets up a Sandbox. The zero value of every field means its default.
type Config struct {
	// Dir is the key folder. On first use New creates it (mode 0700) and
	// generates two RSA-2048 key pairs into it: app_private.pem (PKCS#8,
	// mode 0600), app_public.pem, alipay_private.pem (PKCS#8, 0600) and
	// alipay_public.pem (public keys SPKI). Later runs load them. Empty:
	// fresh keys in memory only (KeyPaths is then empty).
	Dir string
	// AppID is the one app_id the gateway accepts. Default DefaultAppID.
	AppID string
	// PayPID is the one pay_pid the two-stage decode accepts. Default
	// DefaultPayPID.
	PayPID string
	// Now is the sandbox clock: request timestamps, code expiry, the cancel
	// window and trade times are read from it. Default time.Now.
	Now func() time.Time
	// Logger receives one debug line per gateway call (method, code,
	// sub_code, fault, duration) and info lines for fault changes and
	// injected faults. Payment codes and keys are never logged. Default: no
	// logging.
	Logger *zerolog.Logger
	// Faults are injected from the start; see Faults and SetFaults.
	Faults Faults
	// CodeTTL is how long a payment code stays valid after the sandbox first
	// sees it (decode or pay). Default 60 s.
	CodeTTL time.Duration
	// CancelWindow is how long after its creation a trade may still be
	// cancelled; later cancels are refused ACQ.TRADE_CANCEL_TIME_OUT.
	// Default 24 h (sandbox clock).
	CancelWindow time.Duration
	// CertMode makes the sandbox a certificate-mode gateway (公钥证书模式):
	// on first use it issues under Dir a root bundle (an RSA root and an
	// ECDSA root, alipay_root_cert.pem), the app certificate (app_cert.pem)
	// and a gateway certificate (alipay_cert.pem); requests must carry
	// their app_cert_sn and alipay_root_cert_sn, replies carry
	// alipay_cert_sn, and alipay.open.app.alipaycert.download hands out the
	// gateway certificates. Default false: public key mode.
	CertMode bool
	// OpenID makes the decode answer open_id instead of user_id, and pay
	// and query answer buyer_open_id instead of buyer_user_id, as for an
	// app created since 2023. Default false.
	OpenID bool
	// AppAuthToken, when set, is the one app_auth_token the sandbox
	// accepts: a call without it, or with another, is answered 20001
	// aop.invalid-app-auth-token, as for a service provider. Default "".
	AppAuthToken string
	// ReplyCacheSize is the number of signed replies kept, keyed by the
	// SHA-256 of the reply bytes, so identical replies (a repeated query of
	// the same trade) are not signed again. Default 1024 entries; negative
	// disables the cache.
	ReplyCacheSize int
}

func (c Config) withDefaults() Config {
	if c.AppID == "" {
		c.AppID = DefaultAppID
	}
	if c.PayPID == "" {
		c.PayPID = DefaultPayPID
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CodeTTL <= 0 {
		c.CodeTTL = DefaultCodeTTL
	}
	if c.CancelWindow <= 0 {
		c.CancelWindow = DefaultCancelWindow
	}
	if c.ReplyCacheSize == 0 {
		c.ReplyCacheSize = DefaultReplyCacheSize
	}
	return c
}
