package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The status page's login: the API token, typed once, is exchanged for a
// session cookie. The cookie holds an expiry and an HMAC of it keyed with
// the token — never the token itself — so it survives a restart, dies when
// the token is rotated, and proves nothing to anyone without the token.
const (
	// SessionCookie is the name of the page's session cookie: HttpOnly,
	// SameSite=Strict, Path=/.
	SessionCookie = "posagent_session"
	// SessionTTL is how long a login lasts.
	SessionTTL = 12 * time.Hour
	// CSRFHeader carries the page's CSRF token on every state-changing
	// request made with the session cookie.
	CSRFHeader = "X-CSRF-Token"
)

// mac is HMAC-SHA256 keyed with the API token, base64url.
func (s *Server) mac(purpose, msg string) string {
	m := hmac.New(sha256.New, []byte(s.cfg.Token))
	m.Write([]byte(purpose + "\x00" + msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSession returns a cookie value valid until now+SessionTTL.
func (s *Server) newSession(now time.Time) string {
	exp := strconv.FormatInt(now.Add(SessionTTL).Unix(), 10)
	return exp + "." + s.mac("session", exp)
}

// session returns the request's valid session cookie value, or "".
func (s *Server) session(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	exp, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return ""
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || time.Now().Unix() >= n {
		return ""
	}
	if subtle.ConstantTimeCompare([]byte(sig), []byte(s.mac("session", exp))) != 1 {
		return ""
	}
	return c.Value
}

// csrfToken is the CSRF token of a session: bound to it, so a token seen
// in one session is worthless in another.
func (s *Server) csrfToken(session string) string { return s.mac("csrf", session) }

// validCSRF reports whether r carries the CSRF token of session (header
// X-CSRF-Token, or the form field csrf of the page's plain forms).
func (s *Server) validCSRF(r *http.Request, session string) bool {
	got := r.Header.Get(CSRFHeader)
	if got == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		got = r.PostFormValue("csrf")
	}
	want := s.csrfToken(session)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func setSessionCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// safeMethod reports whether m changes nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
