package api

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"time"

	"posagent/checkout"
	"posagent/queue"
)

// The status page (SPEC §13): server-rendered from html/template with files
// embedded in the binary, live through GET /v1/events, no build step and
// nothing fetched from outside, so it works on an offline till.
//
//go:embed page
var pageFS embed.FS

var pageTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("15:04:05")
	},
	"terminal": func(st checkout.State) bool { return st.Terminal() },
}).ParseFS(pageFS, "page/*.html"))

// pageSecurity are the headers of every page reply: no framing, no
// inline script, nothing from elsewhere.
func pageSecurity(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// pageData is what index.html renders.
type pageData struct {
	CSRF      string
	Status    Status
	Active    []checkout.Checkout // not terminal: what the till is doing now
	Recent    []checkout.Checkout
	Attention []checkout.Checkout
	Jobs      []queue.Job // dead and failed: waiting for a person
	Takings   *checkout.DailyReport
	Refunds   []checkout.Refund
	Error     string
}

// page is GET /: the login form without a session, else the status page.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	pageSecurity(w)
	sess := s.session(r)
	if sess == "" {
		s.renderPage(w, http.StatusOK, "login.html", pageData{})
		return
	}
	d := pageData{CSRF: s.csrfToken(sess)}
	var err error
	if d.Status, err = s.status(r.Context()); err != nil {
		d.Error = err.Error()
	}
	recent, err := s.cfg.Checkouts.List(checkout.ListFilter{Limit: 20})
	if err != nil {
		d.Error = err.Error()
	}
	for _, c := range recent {
		if !c.State.Terminal() {
			d.Active = append(d.Active, c)
		}
	}
	d.Recent = recent
	if d.Attention, err = s.cfg.Checkouts.List(checkout.ListFilter{State: checkout.NeedsAttention, Limit: 50}); err != nil {
		d.Error = err.Error()
	}
	if s.cfg.Reports != nil {
		if rep, err := s.cfg.Reports.DailyReport(s.cfg.Reports.Today()); err == nil {
			d.Takings = &rep
		} else {
			d.Error = err.Error()
		}
	}
	if rf := s.refunds(); rf != nil {
		if d.Refunds, err = rf.ListRefunds(checkout.RefundFilter{Limit: 10}); err != nil {
			d.Error = err.Error()
		}
	}
	for _, st := range []string{queue.StateDead, queue.StateFailed} {
		jobs, err := s.cfg.Jobs.List(queue.Filter{State: st, Limit: 50})
		if err != nil {
			d.Error = err.Error()
		}
		d.Jobs = append(d.Jobs, jobs...)
	}
	s.renderPage(w, http.StatusOK, "index.html", d)
}

func (s *Server) renderPage(w http.ResponseWriter, status int, name string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pageTemplates.ExecuteTemplate(w, name, d); err != nil {
		s.log.Error().Str("event", "page_error").Str("template", name).Err(err).Msg("status page")
	}
}

// login is POST /login: the token from the form, exchanged for the session
// cookie; then back to the page (303), never with the token in the URL.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	pageSecurity(w)
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if !s.validToken(r.PostFormValue("token")) {
		s.log.Warn().Str("event", "page_login_failed").Str("remote", r.RemoteAddr).Msg("status page: wrong token")
		s.renderPage(w, http.StatusUnauthorized, "login.html", pageData{Error: "That is not the API token. It is in the file named by api.token_file."})
		return
	}
	setSessionCookie(w, s.newSession(time.Now()), int(SessionTTL/time.Second))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout is POST /logout (session and CSRF token required).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	setSessionCookie(w, "", -1)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// pageFile is GET /ui/{file}: the page's script and style sheet.
func (s *Server) pageFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := fs.ReadFile(pageFS, "page/"+path.Base(name))
	if err != nil || path.Ext(name) == ".html" {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "no file %q", name))
		return
	}
	pageSecurity(w)
	w.Header().Set("Cache-Control", "no-cache")
	switch path.Ext(name) {
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	}
	w.Write(b)
}
