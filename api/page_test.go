package api_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"posagent/api"
)

// pageClient is a browser-like client: a cookie jar, no redirects followed
// blindly.
func pageClient(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

var csrfRE = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

func TestPageLoginCookieAndCSRF(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	cl := pageClient(t)

	// No session: the login form, and no data.
	resp, err := cl.Get(en.HTTP.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, `name="token"`) || strings.Contains(body, "Recent checkouts") {
		t.Fatalf("GET / without a session: %d\n%s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP = %q", csp)
	}

	// A wrong token: 401 and the form again.
	resp, _ = cl.PostForm(en.HTTP.URL+"/login", url.Values{"token": {"wrong-token-0123456789"}})
	if body := readAll(t, resp); resp.StatusCode != 401 || !strings.Contains(body, "not the API token") {
		t.Fatalf("wrong token: %d\n%s", resp.StatusCode, body)
	}

	// The right token: a session cookie, HttpOnly and SameSite=Strict,
	// that is not the token.
	noFollow := *cl
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = noFollow.PostForm(en.HTTP.URL+"/login", url.Values{"token": {en.Token}})
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	setCookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{api.SessionCookie + "=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(setCookie, want) {
			t.Fatalf("Set-Cookie %q lacks %q", setCookie, want)
		}
	}
	if strings.Contains(setCookie, en.Token) {
		t.Fatal("the session cookie holds the API token")
	}

	// The page: the CSRF token in a meta tag, never the API token.
	resp, _ = cl.Get(en.HTTP.URL + "/")
	body = readAll(t, resp)
	m := csrfRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil || strings.Contains(body, en.Token) {
		t.Fatalf("GET / signed in: %d, csrf %v, token in page %v", resp.StatusCode, m, strings.Contains(body, en.Token))
	}
	csrf := m[1]

	// The cookie reads the API; a change without the CSRF token is 403,
	// with it, it goes through.
	resp, _ = cl.Get(en.HTTP.URL + "/v1/status")
	if readAll(t, resp); resp.StatusCode != 200 {
		t.Fatalf("GET /v1/status with the cookie: %d", resp.StatusCode)
	}
	c := en.mustCreate("3.00")
	post := func(hdr string) (int, string) {
		req, _ := http.NewRequest("POST", en.HTTP.URL+"/v1/checkouts/"+c.ID+"/cancel", nil)
		if hdr != "" {
			req.Header.Set(api.CSRFHeader, hdr)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readAll(t, resp)
	}
	if status, body := post(""); status != http.StatusForbidden || !strings.Contains(body, `"CSRF"`) {
		t.Fatalf("cancel with the cookie and no CSRF token: %d %s", status, body)
	}
	if status, body := post("forged"); status != http.StatusForbidden {
		t.Fatalf("cancel with a forged CSRF token: %d %s", status, body)
	}
	if status, body := post(csrf); status != 200 || !strings.Contains(body, `"cancelled"`) {
		t.Fatalf("cancel with the CSRF token: %d %s", status, body)
	}

	// A session cookie made up without the token is worthless.
	forged := pageClient(t)
	u, _ := url.Parse(en.HTTP.URL)
	forged.Jar.SetCookies(u, []*http.Cookie{{Name: api.SessionCookie, Value: "99999999999.abc"}})
	resp, _ = forged.Get(en.HTTP.URL + "/v1/status")
	if readAll(t, resp); resp.StatusCode != 401 {
		t.Fatalf("forged cookie: %d", resp.StatusCode)
	}
}
