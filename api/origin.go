package api

import (
	"net"
	"net/http"
	"slices"
	"strings"
)

// loopbackHosts are the Host names the API always answers to.
var loopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// checkHost answers 421 to a request whose Host is not the listen address,
// a loopback name or one of Config.Hosts: a web page that rebinds its own
// DNS name to 127.0.0.1 then cannot reach the API from the till's browser.
// When Listen names a port, loopback names must use it.
func (s *Server) checkHost(next http.Handler) http.Handler {
	lhost, lport, _ := net.SplitHostPort(s.cfg.Listen)
	if lport == "0" {
		lport = "" // picked at listen time: not known here
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, port, err := net.SplitHostPort(r.Host)
		if err != nil {
			host, port = r.Host, ""
		}
		host = strings.ToLower(strings.Trim(host, "[]"))
		ok := false
		switch {
		case slices.ContainsFunc(s.cfg.Hosts, func(h string) bool {
			return strings.EqualFold(h, r.Host) || strings.EqualFold(h, host)
		}):
			ok = true
		case slices.Contains(loopbackHosts, host) || host != "" && host == strings.ToLower(strings.Trim(lhost, "[]")):
			ok = lport == "" || port == lport
		}
		if !ok {
			writeError(w, errorf(http.StatusMisdirectedRequest, "MISDIRECTED_HOST",
				"this API answers only to localhost, 127.0.0.1, [::1] and the names in [api] hosts, not %q", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cors lets the origins of Config.CORSOrigins call the API from a browser:
// their preflight is answered without a token, and their replies carry
// Access-Control-Allow-Origin. Other origins get no CORS headers, so the
// browser keeps their scripts from reading anything.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !slices.Contains(s.cfg.CORSOrigins, origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Last-Event-ID")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
