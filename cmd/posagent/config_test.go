package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeConfig writes text to dir/posagent.toml and returns the path.
func writeConfig(tb testing.TB, dir, text string) string {
	tb.Helper()
	path := filepath.Join(dir, "posagent.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// configErrors returns every *ConfigError in err (one, or several joined).
func configErrors(tb testing.TB, err error) []*ConfigError {
	tb.Helper()
	var out []*ConfigError
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			out = append(out, configErrors(tb, e)...)
		}
		return out
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		tb.Fatalf("error %v (%T) is not a *ConfigError", err, err)
	}
	return []*ConfigError{ce}
}

// withoutSource drops what only error messages use, for comparisons.
func withoutSource(c Config) Config {
	c.src = configSource{}
	return c
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		line int
		key  string
		msg  string // substring of Msg
	}{
		{"unknown key", "[terminal]\nstore_id = \"S1\"\n\n[scanner]\ndevise = \"/dev/ttyUSB0\"\n",
			5, "scanner.devise", `unknown key (did you mean "scanner.device"?)`},
		{"key in the wrong case", "[scanner]\nDevice = \"COM3\"\n",
			2, "scanner.Device", `unknown key (did you mean "scanner.device"?)`},
		{"unknown table", "# c\n[scaner]\ndevice = \"COM3\"\n",
			2, "scaner", `unknown table (did you mean "scanner"?)`},
		{"unknown key in an inline table", "scanner = { device = \"COM3\",\n  devise = \"x\" }\n",
			2, "scanner.devise", "unknown key"},
		{"unknown dotted key", "\nscanner.foo.bar = 1\n",
			2, "scanner.foo.bar", "unknown key"},
		{"key at the root", "device = \"COM3\"\n",
			1, "device", `did you mean "scanner.device"?`},
		{"bad duration", "[scanner]\nbaud = 9600\nframe_gap = \"fast\"\n",
			3, "scanner.frame_gap", `invalid duration "fast"`},
		{"bad duration after other tables", "[alipay]\ntimeout = \"15s\"\n[scanner]\n\n\nframe_gap = \"1d\"\n[log]\nlevel = \"info\"\n",
			6, "scanner.frame_gap", `invalid duration "1d"`},
		{"bad duration as a dotted key", "\n\nscanner.frame_gap = \"fast\"\n",
			3, "scanner.frame_gap", "invalid duration"},
		{"bad duration in an inline table", "scanner = { device = \"COM3\",\n\n frame_gap = \"fast\" }\n",
			3, "scanner.frame_gap", "invalid duration"},
		{"bare number as duration", "[checkout]\nquery_interval = 3\n",
			2, "checkout.query_interval", "a bare number has no unit"},
		{"bare number in an inline table", "checkout = { query_interval = \"3s\",\n decision_deadline = 60 }\n",
			2, "checkout.decision_deadline", "a bare number has no unit"},
		{"boolean as duration", "[queue]\nmax_age = true\n",
			2, "queue.max_age", "got a boolean"},
		{"string for an integer", "[scanner]\n\nbaud = \"9600\"\n",
			3, "scanner.baud", "want an integer, got a string"},
		{"array for a string, over lines", "[terminal]\nstore_id = \"S1\"\n\n[api]\nlisten = [\n  \"a\",\n  \"b\",\n]\n",
			5, "api.listen", "want a string, got an array"},
		{"integer for a table", "\nlog = 5\n",
			2, "log", "want a table, got an integer"},
		{"table for a string", "[terminal.store_id]\n",
			1, "terminal.store_id", "want a string, got a table"},
		{"array of tables", "[terminal]\n[[scanner]]\n",
			2, "scanner", "got an array of tables"},
		{"duplicate key", "[scanner]\nbaud = 1\nbaud = 2\n",
			3, "scanner.baud", "already defined"},
		{"syntax error", "[scanner]\nbaud = 9600\ndevice = \"COM3\n",
			3, "", "TOML syntax error"},
		{"missing value", "[scanner]\n\nbaud =\n",
			3, "", "TOML syntax error"},
		{"unterminated multi-line string", "[scanner]\ndevice = \"\"\"\nCOM3\n\n[log]\nlevel = \"info\"\n",
			6, "", "starts on line 2"},
		{"UTF-16", "\xff\xfe[\x00", 1, "", "UTF-16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, t.TempDir(), tt.text)
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("LoadConfig: no error")
			}
			errs := configErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("want 1 error, got %d: %v", len(errs), err)
			}
			e := errs[0]
			if e.File != path || e.Line != tt.line || e.Key != tt.key || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got  %s:%d %q %q\nwant %s:%d %q ...%q...", e.File, e.Line, e.Key, e.Msg, path, tt.line, tt.key, tt.msg)
			}
			prefix := path + ":" + strconv.Itoa(tt.line) + ": "
			if tt.key != "" {
				prefix += tt.key + ": "
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("Error() = %q, want prefix %q", err.Error(), prefix)
			}
		})
	}
}

func TestLoadConfigReportsSeveralProblems(t *testing.T) {
	many := "[log]\n"
	for i := range 15 {
		many += "k" + strconv.Itoa(i) + " = 1\n"
	}
	tests := []struct {
		name, text string
		want       []string // key@line
	}{
		{"unknown keys", "[log]\nlevel = \"info\"\nfoo = 1\n\n[queue]\nbar = 2\n[nope]\n",
			[]string{"log.foo@3", "queue.bar@6", "nope@7"}},
		{"unknown key and bare number", "[scanner]\ndevise = 1\nframe_gap = 200\n",
			[]string{"scanner.devise@2", "scanner.frame_gap@3"}},
		{"bare number before a bad value", "[scanner]\nframe_gap = 200\nbaud = \"x\"\ndedupe_window = 1\n",
			[]string{"scanner.frame_gap@2", "scanner.baud@3"}},
		{"at most ten", many,
			[]string{"log.k0@2", "log.k1@3", "log.k2@4", "log.k3@5", "log.k4@6", "log.k5@7", "log.k6@8", "log.k7@9", "log.k8@10", "log.k9@11", "@0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, t.TempDir(), tt.text))
			var got []string
			for _, e := range configErrors(t, err) {
				got = append(got, e.Key+"@"+strconv.Itoa(e.Line))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v\n%v", got, tt.want, err)
			}
		})
	}
}

func TestLoadConfigValues(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, `
[terminal]
terminal_id = "POS_7"

[scanner]
device = "COM3"
baud = 115200
frame_gap = "0"
dedupe_window = 0

[checkout]
decision_deadline = "2m30s"
`)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Terminal.TerminalID = "POS_7"
	want.Scanner = ScannerConfig{Device: "COM3", Baud: 115200, FrameGap: 0, DedupeWindow: 0}
	want.Checkout.DecisionDeadline = Duration(150 * time.Second)
	want.resolvePaths(dir)
	want.File = path
	if got := withoutSource(cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if cfg.Checkout.DecisionDeadline.Duration() != 150*time.Second {
		t.Errorf("Duration() = %s", cfg.Checkout.DecisionDeadline.Duration())
	}
}

func TestLoadConfigRelativePaths(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "etc", "posagent")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(root, "var", "log", "pos.log")
	path := writeConfig(t, etc, `
[terminal]
data_dir = "state"
[alipay]
app_private_key_file = "keys/app_private.pem"
alipay_public_key_file = "../alipay_public.pem"
[api]
token_file = "state/api.token"
[log]
file = '`+abs+`'
`)
	// The folder the program runs in must not matter.
	t.Chdir(root)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, got, want string }{
		{"terminal.data_dir", cfg.Terminal.DataDir, filepath.Join(etc, "state")},
		{"alipay.app_private_key_file", cfg.Alipay.AppPrivateKeyFile, filepath.Join(etc, "keys", "app_private.pem")},
		{"alipay.alipay_public_key_file", cfg.Alipay.AlipayPublicKeyFile, filepath.Join(root, "etc", "alipay_public.pem")},
		{"api.token_file", cfg.API.TokenFile, filepath.Join(etc, "state", "api.token")},
		{"log.file", cfg.Log.File, abs},
		{"File", cfg.File, path},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}

	// A relative --config is relative to the working directory, and the
	// paths in it to the file's folder.
	rel, err := LoadConfig(filepath.Join("etc", "posagent", "posagent.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if rel.Terminal.DataDir != filepath.Join(etc, "state") {
		t.Errorf("data_dir via a relative --config = %q", rel.Terminal.DataDir)
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)

	// No --config and no posagent.toml: the built-in defaults.
	cfg, err := LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != "" || !strings.Contains(cfg.Source(), "built-in defaults") {
		t.Errorf("File = %q, Source() = %q", cfg.File, cfg.Source())
	}
	want := DefaultConfig()
	want.resolvePaths(dir)
	if got := withoutSource(cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if !cfg.Alipay.Sandbox() || cfg.Scanner.Device != DeviceStdin || cfg.API.Listen != "127.0.0.1:8089" {
		t.Errorf("defaults are not sandbox/stdin/127.0.0.1:8089: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}

	// An explicit --config that does not exist is an error.
	_, err = LoadConfig("posagent.toml")
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, fs.ErrNotExist) || ce.File != "posagent.toml" {
		t.Errorf("explicit missing file: %v", err)
	}

	// posagent.toml in the working directory is read without --config.
	writeConfig(t, dir, "[terminal]\nterminal_id = \"T99\"\n")
	cfg, err = LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Terminal.TerminalID != "T99" || cfg.File != filepath.Join(dir, "posagent.toml") {
		t.Errorf("default file not read: %q from %q", cfg.Terminal.TerminalID, cfg.File)
	}
}

// liveKeys writes two key files in dir and returns an [alipay] table for a
// real gateway that uses them.
func liveKeys(tb testing.TB, dir string) string {
	tb.Helper()
	for _, name := range []string{"app_private.pem", "alipay_public.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("key"), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return `
[alipay]
gateway = "https://openapi.alipay.com/gateway.do"
app_id = "2021000000000001"
pay_pid = "2088702093900999"
app_private_key_file = "app_private.pem"
alipay_public_key_file = "alipay_public.pem"
`
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		live bool   // start from a valid non-sandbox [alipay]
		text string // appended
		line int
		key  string
		msg  string
	}{
		{"bad sign_type", false, "[alipay]\nsign_type = \"RSA256\"\n", 2, "alipay.sign_type", `must be "RSA2" or "RSA"`},
		{"bad gateway", false, "[alipay]\ngateway = \"openapi.alipay.com\"\n", 2, "alipay.gateway", `must be "sandbox" or an http(s) URL`},
		{"missing key file", true, "", 6, "alipay.app_private_key_file", "cannot read key file"},
		{"key file is a folder", true, "", 7, "alipay.alipay_public_key_file", "is a folder"},
		{"app_id required outside sandbox", false, "[alipay]\ngateway = \"https://openapi.alipay.com/gateway.do\"\n", 0, "alipay.app_id", "required when alipay.gateway is not"},
		{"app_id not digits", true, "", 0, "alipay.app_id", "not an Alipay id"},
		{"zero timeout", false, "[alipay]\ntimeout = \"0s\"\n", 2, "alipay.timeout", "must be > 0"},
		{"terminal_id too long", false, "[terminal]\nterminal_id = \"T0123456789ABCDEF\"\n", 2, "terminal.terminal_id", "longer than 16"},
		{"terminal_id charset", false, "[terminal]\nterminal_id = \"T-01\"\n", 2, "terminal.terminal_id", "letters, digits and _"},
		{"terminal_id empty", false, "[terminal]\nterminal_id = \"\"\n", 2, "terminal.terminal_id", "required"},
		{"store_id charset", false, "[terminal]\nstore_id = \"S 1\"\n", 2, "terminal.store_id", "letters, digits and _"},
		{"baud", false, "[scanner]\nbaud = 0\n", 2, "scanner.baud", "must be > 0"},
		{"negative frame_gap", false, "[scanner]\nframe_gap = \"-1s\"\n", 2, "scanner.frame_gap", "must be >= 0"},
		{"deadline not after interval", false, "[checkout]\nquery_interval = \"5s\"\ndecision_deadline = \"5s\"\n", 3, "checkout.decision_deadline", "longer than checkout.query_interval"},
		{"on_decode_unavailable", false, "[checkout]\non_decode_unavailable = \"retry\"\n", 2, "checkout.on_decode_unavailable", `"abort" or "pay_without_coupons"`},
		{"report_url", false, "[coupons]\nreport_url = \"ftp://x\"\n", 2, "coupons.report_url", "http(s) URL"},
		{"max_age", false, "[queue]\nmax_age = \"0\"\n", 2, "queue.max_age", "must be > 0"},
		{"listen", false, "[api]\nlisten = \"8089\"\n", 2, "api.listen", "host:port"},
		{"listen port", false, "[api]\nlisten = \"127.0.0.1:99999\"\n", 2, "api.listen", "bad port"},
		{"cors origin", false, "[api]\ncors_origins = [\"register.local\"]\n", 2, "api.cors_origins", "not an origin"},
		{"host name", false, "[api]\nhosts = [\"http://till\"]\n", 2, "api.hosts", "not a host name"},
		{"log level", false, "[log]\nlevel = \"verbose\"\n", 2, "log.level", "debug, info, warn or error"},
		{"max_size_mb", false, "[log]\n\nmax_size_mb = -1\n", 3, "log.max_size_mb", ">= 0"},
		{"max_backups", false, "[log]\nmax_backups = -1\n", 2, "log.max_backups", ">= 0"},
		{"heartbeat", false, "[log]\nheartbeat = \"0\"\n", 2, "log.heartbeat", "must be > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			text := tt.text
			if tt.live {
				text = liveKeys(t, dir) + text
			}
			switch tt.name {
			case "missing key file":
				os.Remove(filepath.Join(dir, "app_private.pem"))
			case "key file is a folder":
				os.Remove(filepath.Join(dir, "alipay_public.pem"))
				os.Mkdir(filepath.Join(dir, "alipay_public.pem"), 0o755)
			case "app_id not digits":
				text = strings.Replace(text, `"2021000000000001"`, `"my-app"`, 1)
				tt.line = 4
			}
			path := writeConfig(t, dir, text)
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if err == nil {
				t.Fatal("Validate: no error")
			}
			var found *ConfigError
			for _, e := range configErrors(t, err) {
				if e.Key == tt.key {
					found = e
				}
			}
			if found == nil {
				t.Fatalf("no error for %s in %v", tt.key, err)
			}
			if found.File != path || found.Line != tt.line || !strings.Contains(found.Msg, tt.msg) {
				t.Errorf("got  %s:%d %q\nwant %s:%d ...%q...", found.File, found.Line, found.Msg, path, tt.line, tt.msg)
			}
			if tt.name == "missing key file" && !strings.Contains(found.Msg, filepath.Join(dir, "app_private.pem")) {
				t.Errorf("message does not name the path: %q", found.Msg)
			}
		})
	}
}

func TestValidateLive(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, liveKeys(t, dir)+"sign_type = \"RSA\"\n")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Alipay.Sandbox() || cfg.Alipay.AppPrivateKeyFile != filepath.Join(dir, "app_private.pem") {
		t.Errorf("alipay = %+v", cfg.Alipay)
	}
}

// TestExampleConfig keeps config.example.toml and DefaultConfig equal: the
// example holds every key, decodes strictly and yields the defaults.
func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "..", "config.example.toml")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	abs, _ := filepath.Abs(path)
	want.File = abs
	want.resolvePaths(filepath.Dir(abs))
	if got := withoutSource(cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("config.example.toml differs from DefaultConfig():\ngot  %+v\nwant %+v", got, want)
	}
	for _, key := range knownKeyList {
		if _, ok := cfg.src.lines[key]; !ok {
			t.Errorf("config.example.toml lacks %s", key)
		}
	}
}

func TestDurationText(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"200ms", 200 * time.Millisecond, true},
		{"1m30s", 90 * time.Second, true},
		{"72h", 72 * time.Hour, true},
		{"0", 0, true},
		{"-1s", -time.Second, true},
		{"fast", 0, false},
		{"5", 0, false},
		{"1d", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || (tt.ok && d.Duration() != tt.want) {
			t.Errorf("UnmarshalText(%q) = %s, %v", tt.in, d, err)
		}
		if tt.ok {
			text, _ := d.MarshalText()
			var back Duration
			if err := back.UnmarshalText(text); err != nil || back != d {
				t.Errorf("round trip of %q via %q = %s, %v", tt.in, text, back, err)
			}
		}
	}
}
