package gateway

import (
	"fmt"
	"sync"
	"time"
)

// Health is what the client has learnt about its configuration from the
// gateway's replies, for /v1/status and the logs: whether replies verify,
// whether the gateway accepts the app's signature and app_auth_token. It
// tells "the key or certificate configuration is wrong" apart from "Alipay
// cannot be reached" (Reachable).
type Health struct {
	// Reachable and LastSeen are as Reachable returns them.
	Reachable bool
	LastSeen  time.Time
	// VerifyFailures counts the replies in a row that failed verification
	// (or came unsigned); a verified reply resets it. LastVerifyFailure and
	// LastVerifyError describe the last one (zero/"" if none).
	VerifyFailures    int
	LastVerifyFailure time.Time
	LastVerifyError   string
	// Unauthorized is the sub_code of a 20001 reply not followed by a
	// verified reply of another code since (UnauthorizedAt); "" when none.
	Unauthorized   string
	UnauthorizedAt time.Time
	// Rejected is the sub_code of the last verified refusal that points at
	// the configuration (isv.invalid-signature: the app key;
	// isv.invalid-app-id; isv.invalid-app-cert-sn, isv.invalid-alipay-root-cert-sn),
	// cleared by a later success or business answer; "" when none.
	Rejected   string
	RejectedAt time.Time
	// AlipayCertSN is the gateway certificate in use (certificate mode).
	AlipayCertSN string
	// Problem says in words what is wrong, for a person; "" when nothing is.
	Problem string
}

// configRejections are verified refusals caused by the configuration.
var configRejections = map[string]string{
	"isv.invalid-signature":           "Alipay cannot verify posagent's requests (isv.invalid-signature): app_private_key_file does not match the app public key (or app certificate) registered for app_id",
	"isv.invalid-app-id":              "Alipay does not know app_id (isv.invalid-app-id)",
	"isv.invalid-app-cert-sn":         "Alipay does not know the app certificate (isv.invalid-app-cert-sn): app_cert_file is not the certificate registered for app_id",
	"isv.invalid-alipay-root-cert-sn": "Alipay does not accept the root bundle (isv.invalid-alipay-root-cert-sn): alipay_root_cert_file is not Alipay's root certificate",
}

// healthState tracks Health between calls.
type healthState struct {
	mu                sync.Mutex
	verifyFailures    int
	lastVerifyFailure time.Time
	lastVerifyError   string
	unauthorized      string
	unauthorizedAt    time.Time
	rejected          string
	rejectedAt        time.Time
	rejections        int // config refusals in a row, for the log's pace
}

// verifyHint is the advice every verification failure is logged with.
const verifyHint = "the key or certificate configuration is wrong (Alipay is reachable): alipay_public_key_file must hold Alipay's public key, not the app's; in certificate mode check alipay_cert_file and alipay_root_cert_file. Run posagent check."

// verifyFailed records a reply that failed verification and logs it at
// error level: the first of a run, then every 20th.
func (h *healthState) verifyFailed(c *Client, e *Error) {
	h.mu.Lock()
	h.verifyFailures++
	n := h.verifyFailures
	h.lastVerifyFailure = c.now()
	h.lastVerifyError = e.Error()
	h.mu.Unlock()
	if c.Logger != nil && (n == 1 || n%20 == 0) {
		c.Logger.Error().Str("event", "gateway_verify_failed").Str("method", e.Method).
			Int("in_a_row", n).Str("claimed_code", e.Code).Str("claimed_sub_code", e.SubCode).
			Str("error", e.Err.Error()).Str("hint", verifyHint).
			Msg("a gateway reply failed verification: " + verifyHint)
	}
}

// verified records a reply that verified, of kind with sub_code sub.
func (h *healthState) verified(c *Client, kind Kind, sub string) {
	now := c.now()
	h.mu.Lock()
	h.verifyFailures = 0
	var logUnauth bool
	logRejected := ""
	switch kind {
	case Unauthorized:
		logUnauth = true
		h.unauthorized, h.unauthorizedAt = sub, now
		if sub == "" {
			h.unauthorized = "20001"
		}
	case Rejected:
		h.unauthorized = ""
		if _, ok := configRejections[sub]; ok {
			h.rejected, h.rejectedAt = sub, now
			h.rejections++
			if h.rejections == 1 || h.rejections%20 == 0 {
				logRejected = sub
			}
		}
	default:
		h.unauthorized, h.rejected, h.rejections = "", "", 0
	}
	h.mu.Unlock()
	if logRejected != "" && c.Logger != nil {
		c.Logger.Error().Str("event", "gateway_config_rejected").Str("sub_code", logRejected).
			Msg(configRejections[logRejected] + ". Run posagent check.")
	}
	if logUnauth && c.Logger != nil {
		c.Logger.Error().Str("event", "gateway_unauthorized").Str("sub_code", sub).
			Msg("Alipay refused app_auth_token (20001): the merchant must authorise the app again, or [alipay] app_auth_token is wrong")
	}
}

// Health returns what the client knows about its configuration; see Health.
func (c *Client) Health() Health {
	c.init()
	reach, seen := c.Reachable()
	h := &c.health
	h.mu.Lock()
	out := Health{
		Reachable: reach, LastSeen: seen,
		VerifyFailures: h.verifyFailures, LastVerifyFailure: h.lastVerifyFailure, LastVerifyError: h.lastVerifyError,
		Unauthorized: h.unauthorized, UnauthorizedAt: h.unauthorizedAt,
		Rejected: h.rejected, RejectedAt: h.rejectedAt,
	}
	h.mu.Unlock()
	if c.certs != nil {
		out.AlipayCertSN = c.certs.currentSN()
	}
	switch {
	case out.VerifyFailures > 0:
		out.Problem = fmt.Sprintf("%d gateway replies in a row failed verification: %s", out.VerifyFailures, verifyHint)
	case out.Unauthorized != "":
		out.Problem = fmt.Sprintf("Alipay refused app_auth_token (20001 %s): the merchant must authorise the app again, or [alipay] app_auth_token is wrong", out.Unauthorized)
	case out.Rejected != "":
		out.Problem = configRejections[out.Rejected]
	}
	return out
}
