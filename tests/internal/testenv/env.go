//go:build linux

package testenv

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"posagent/api"
	"posagent/gateway/sandbox"
)

// Options shape an Env's posagent.toml. Durations are TOML duration
// strings; the zero value of each field means the default given.
type Options struct {
	// QueryInterval is [checkout] query_interval. Default "100ms".
	QueryInterval string
	// DecisionDeadline is [checkout] decision_deadline. Default "10s".
	DecisionDeadline string
	// LatePayWindow is [checkout] late_pay_window. Default "2s", so a
	// cancel answered ACQ.TRADE_NOT_EXIST settles within a test.
	LatePayWindow string
	// ScanTimeout is [checkout] scan_timeout. Default "5m" (the product's).
	ScanTimeout string
	// Heartbeat is [log] heartbeat. Default "5m".
	Heartbeat string
	// DedupeWindow is [scanner] dedupe_window. Default "2s" (the product's).
	DedupeWindow string
	// LogLevel is [log] level. Default "debug", so that the log checks see
	// every line posagent can write.
	LogLevel string
	// ConsultScene is [marketing] consult_scene. Default "" (off).
	ConsultScene string
	// Extra is raw TOML appended to the file (new tables only).
	Extra string
	// Faults are set on the sandbox before the daemon starts.
	Faults sandbox.Faults
	// Link puts a Link (a cuttable network path) between the daemon and
	// the sandbox. Default false: the daemon calls the sandbox directly.
	Link bool
}

func (o Options) withDefaults() Options {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.QueryInterval, "100ms")
	def(&o.DecisionDeadline, "10s")
	def(&o.LatePayWindow, "2s")
	def(&o.ScanTimeout, "5m")
	def(&o.Heartbeat, "5m")
	def(&o.DedupeWindow, "2s")
	def(&o.LogLevel, "debug")
	return o
}

// Env is one cashier machine: a folder with posagent.toml, data and logs,
// a gateway sandbox (in the test process) and a scanner on a pty. Start
// runs the daemon on it; several runs in a row share the data folder, as
// restarts of one machine do.
type Env struct {
	Dir       string // the machine's folder
	Config    string // posagent.toml
	DataDir   string // [terminal] data_dir
	LogFile   string // [log] file
	TokenFile string // [api] token_file
	Addr      string // [api] listen, 127.0.0.1:port
	Sandbox   *sandbox.Sandbox
	Scanner   *Scanner
	// Link is the network path to the gateway when Options.Link is set.
	Link *Link

	opts Options

	mu          sync.Mutex
	handedCodes []string
}

// New sets up an Env: it starts a sandbox on 127.0.0.1, opens the scanner
// pty, and writes posagent.toml. t.Cleanup stops the sandbox and, after
// the daemons of the test, checks the log for leaked codes and tokens.
func New(tb testing.TB, opts Options) *Env {
	tb.Helper()
	opts = opts.withDefaults()
	dir := tb.TempDir()
	sb, err := sandbox.New(sandbox.Config{Dir: keysDir, Faults: opts.Faults})
	if err != nil {
		tb.Fatalf("sandbox: %v", err)
	}
	if err := sb.Start("127.0.0.1:0"); err != nil {
		tb.Fatalf("sandbox: %v", err)
	}
	tb.Cleanup(func() { sb.Close() })
	e := &Env{
		Dir:       dir,
		Config:    filepath.Join(dir, "posagent.toml"),
		DataDir:   filepath.Join(dir, "data"),
		LogFile:   filepath.Join(dir, "logs", "posagent.log"),
		TokenFile: filepath.Join(dir, "data", "api.token"),
		Addr:      FreeAddr(tb),
		Sandbox:   sb,
		opts:      opts,
	}
	e.Scanner = OpenScanner(tb, dir)
	if opts.Link {
		u, err := url.Parse(sb.URL())
		if err != nil {
			tb.Fatal(err)
		}
		e.Link = NewLink(tb, u.Host)
	}
	e.WriteConfig(tb, e.Config, "")
	// Registered after the sandbox and scanner, so it runs before they
	// close, and after every daemon of the test has been stopped.
	tb.Cleanup(func() { e.checkLogSecrets(tb) })
	return e
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TOML returns the text of the Env's posagent.toml, with extra appended.
func (e *Env) TOML(extra string) string {
	kp := e.Sandbox.KeyPaths()
	gw := e.Sandbox.URL()
	if e.Link != nil {
		gw = "http://" + e.Link.Addr() + "/gateway.do"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# posagent.toml written by tests/internal/testenv
[terminal]
store_id = "S001"
terminal_id = "T01"
data_dir = %s

[alipay]
gateway = %s
app_id = %s
pay_pid = %s
app_private_key_file = %s
alipay_public_key_file = %s
timeout = "5s"

[scanner]
device = %s
dedupe_window = %s

[checkout]
query_interval = %s
decision_deadline = %s
late_pay_window = %s
scan_timeout = %s

[marketing]
consult_scene = %s

[api]
listen = %s
token_file = %s

[log]
file = %s
level = %s
heartbeat = %s
`, q(e.DataDir), q(gw), q(e.Sandbox.AppID()), q(e.Sandbox.PayPID()),
		q(kp.AppPrivate), q(kp.AlipayPublic), q(e.Scanner.Path), q(e.opts.DedupeWindow),
		q(e.opts.QueryInterval), q(e.opts.DecisionDeadline), q(e.opts.LatePayWindow), q(e.opts.ScanTimeout), q(e.opts.ConsultScene),
		q(e.Addr), q(e.TokenFile), q(e.LogFile), q(e.opts.LogLevel), q(e.opts.Heartbeat))
	if e.opts.Extra != "" {
		b.WriteString("\n" + e.opts.Extra + "\n")
	}
	if extra != "" {
		b.WriteString("\n" + extra + "\n")
	}
	return b.String()
}

// WriteConfig writes the Env's config, with extra appended, to path.
func (e *Env) WriteConfig(tb testing.TB, path, extra string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(e.TOML(extra)), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// q quotes s as a TOML basic string.
func q(s string) string { return strconv.Quote(s) }

// Token reads the API token the daemon created.
func (e *Env) Token(tb testing.TB) string {
	tb.Helper()
	tok, err := api.ReadToken(e.TokenFile)
	if err != nil {
		tb.Fatalf("read the API token: %v", err)
	}
	return tok
}

// BaseURL is the daemon's local API.
func (e *Env) BaseURL() string { return "http://" + e.Addr }

// Client returns an API client of the Env's daemon with its token.
func (e *Env) Client(tb testing.TB) *api.Client {
	tb.Helper()
	return api.NewClient(e.BaseURL(), e.Token(tb))
}
