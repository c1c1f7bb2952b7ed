package api_test

import (
	"net/http"
	"testing"
)

// A web page that rebinds its DNS name to 127.0.0.1 sends its own name as
// Host: the API must not answer it, while loopback names and [api] hosts
// work.
func TestHostGuardRefusesForeignHosts(t *testing.T) {
	en := mustOpenEnv(t, envOptions{Hosts: []string{"till-01.store.lan"}})
	for _, tc := range []struct {
		host string
		want int
	}{
		{"evil.example:80", http.StatusMisdirectedRequest},
		{"evil.example", http.StatusMisdirectedRequest},
		{"127.0.0.1.evil.example", http.StatusMisdirectedRequest},
		{"localhost:8089", http.StatusOK},
		{"127.0.0.1", http.StatusOK},
		{"[::1]:8089", http.StatusOK},
		{"till-01.store.lan:8089", http.StatusOK},
		{"TILL-01.store.lan", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", en.HTTP.URL+"/v1/status", nil)
		req.Host = tc.host
		req.Header.Set("Authorization", "Bearer "+en.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Host %q: status %d, want %d", tc.host, resp.StatusCode, tc.want)
		}
	}
}

// A typo in a query parameter must be an error, not a silently ignored
// filter that answers every checkout.
func TestUnknownQueryParameterIs400(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	for _, path := range []string{"/v1/checkouts?stat=paid", "/v1/jobs?kinds=trade_cancel", "/v1/status?x=1", "/v1/coupons?user=2088"} {
		status, _, body := en.do("GET", path, "")
		if status != http.StatusBadRequest || errCode(body) != "BAD_QUERY" {
			t.Errorf("GET %s: %d %v, want 400 BAD_QUERY", path, status, body)
		}
	}
	if status, _, body := en.do("GET", "/v1/checkouts?state=paid&limit=5", ""); status != http.StatusOK {
		t.Errorf("known parameters: %d %v", status, body)
	}
}

// Only listed origins get CORS headers, and their preflight needs no token.
func TestCORSOnlyForListedOrigins(t *testing.T) {
	en := mustOpenEnv(t, envOptions{CORSOrigins: []string{"http://register.local:3000"}})
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", en.HTTP.URL+"/v1/checkouts", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ok := preflight("http://register.local:3000")
	if ok.StatusCode != http.StatusNoContent || ok.Header.Get("Access-Control-Allow-Origin") != "http://register.local:3000" {
		t.Errorf("listed origin preflight: %d, allow-origin %q", ok.StatusCode, ok.Header.Get("Access-Control-Allow-Origin"))
	}
	bad := preflight("http://evil.example")
	if bad.Header.Get("Access-Control-Allow-Origin") != "" || bad.StatusCode == http.StatusNoContent {
		t.Errorf("unlisted origin preflight: %d, allow-origin %q", bad.StatusCode, bad.Header.Get("Access-Control-Allow-Origin"))
	}
	_, hdr, _ := en.do("GET", "/v1/status", "", "Origin", "http://register.local:3000")
	if hdr.Get("Access-Control-Allow-Origin") != "http://register.local:3000" {
		t.Errorf("listed origin GET: allow-origin %q", hdr.Get("Access-Control-Allow-Origin"))
	}
}

// The reference is served, with the token.
func TestOpenAPIServed(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	status, _, body := en.do("GET", "/v1/openapi.json", "")
	if status != http.StatusOK || body["openapi"] == nil || body["paths"] == nil {
		t.Fatalf("GET /v1/openapi.json: %d %v", status, body)
	}
}
