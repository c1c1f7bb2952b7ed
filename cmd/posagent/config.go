package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// DefaultConfigPath is the config file every verb reads when --config is not
// given. Unlike an explicit --config, it may be missing: posagent then runs on
// the built-in defaults (sandbox gateway, scanner on stdin).
const DefaultConfigPath = "posagent.toml"

// maxConfigSize bounds what LoadConfig reads; a real config is a few KiB,
// and go-toml reports many unknown keys in time quadratic in the size.
const maxConfigSize = 256 << 10

// Values of the enumerated config keys.
const (
	GatewaySandbox = "sandbox" // [alipay] gateway: run the embedded simulator
	DeviceStdin    = "stdin"   // [scanner] device: read scans from standard input

	SignTypeRSA2 = "RSA2" // [alipay] sign_type: SHA256withRSA
	SignTypeRSA  = "RSA"  // [alipay] sign_type: SHA1withRSA

	OnDecodeAbort             = "abort"               // back to awaiting a scan (GATEWAY_UNAVAILABLE) when the decode is unavailable
	OnDecodePayWithoutCoupons = "pay_without_coupons" // pay the full amount without a decode
)

// Config is the whole of posagent.toml. The toml tags are the contract of
// SPEC §10; config.example.toml at the repository root documents every key
// with its default and must stay equal to DefaultConfig (a test checks).
//
// Paths in a loaded Config are absolute: LoadConfig resolves relative ones
// against the folder of the config file.
type Config struct {
	Terminal  TerminalConfig  `toml:"terminal"`
	Data      DataConfig      `toml:"data"`
	Alipay    AlipayConfig    `toml:"alipay"`
	Scanner   ScannerConfig   `toml:"scanner"`
	Checkout  CheckoutConfig  `toml:"checkout"`
	Marketing MarketingConfig `toml:"marketing"`
	Coupons   CouponsConfig   `toml:"coupons"`
	Queue     QueueConfig     `toml:"queue"`
	API       APIConfig       `toml:"api"`
	Reconcile ReconcileConfig `toml:"reconcile"`
	Log       LogConfig       `toml:"log"`

	// File is the absolute path of the file the values came from; empty when
	// no file was read and the Config holds the built-in defaults.
	File string `toml:"-"`

	// src remembers how the file was named and where each key sits, so that
	// Validate can name file, line and key.
	src configSource
}

// configSource is the part of a loaded Config that only error messages use.
type configSource struct {
	name  string         // the path as the user gave it, for messages
	lines map[string]int // dotted key → line of the key in the file
}

// TerminalConfig is [terminal]: who this register is and where it keeps state.
type TerminalConfig struct {
	// StoreID is sent as store_id on trade.pay. Default "S001"; at most 32 of
	// [A-Za-z0-9_]; empty: not sent.
	StoreID string `toml:"store_id"`
	// TerminalID is sent as terminal_id on trade.pay and is part of every
	// out_trade_no and sence_no, so it must be unique among the registers of a
	// merchant. Default "T01"; 1 to 16 of [A-Za-z0-9_].
	TerminalID string `toml:"terminal_id"`
	// DataDir holds the bbolt file posagent.db. Default "data" (relative to
	// the config file's folder); created if missing.
	DataDir string `toml:"data_dir"`
}

// DataConfig is [data]: how long the journal keeps finished work.
type DataConfig struct {
	// Retention: paid, failed and cancelled checkouts (with their refunds)
	// and done jobs last changed longer ago than this are pruned, hourly
	// (daemon_prune.go). Default 9600h (400 days); must be >= 24h, so a
	// day's takings can always be reconciled.
	Retention Duration `toml:"retention"`
}

// AlipayConfig is [alipay]: the gateway and the merchant's credentials.
type AlipayConfig struct {
	// Gateway is "sandbox" (the embedded simulator, started in-process) or the
	// URL of an OpenAPI gateway, e.g. "https://openapi.alipay.com/gateway.do".
	// Default "sandbox".
	Gateway string `toml:"gateway"`
	// AppID is the Alipay app id. Default ""; required unless sandbox.
	AppID string `toml:"app_id"`
	// SignType is "RSA2" (SHA256withRSA) or "RSA" (SHA1withRSA). Default "RSA2".
	SignType string `toml:"sign_type"`
	// AppPrivateKeyFile is the app's private key: PEM (PKCS#1 or PKCS#8) or
	// the bare base64 body. Default ""; required unless sandbox.
	AppPrivateKeyFile string `toml:"app_private_key_file"`
	// AlipayPublicKeyFile is the gateway's public key (not the app's), used to
	// verify replies. Default ""; required unless sandbox or certificate mode.
	AlipayPublicKeyFile string `toml:"alipay_public_key_file"`
	// AppAuthToken is a service provider's (ISV) app_auth_token for the
	// merchant, sent on every call. Default "": none.
	AppAuthToken string `toml:"app_auth_token"`
	// AppCertFile, AlipayCertFile and AlipayRootCertFile switch on
	// certificate mode (all three, PEM): the app certificate, the gateway
	// certificate (instead of alipay_public_key_file) and Alipay's root
	// bundle. Default "": public key mode.
	AppCertFile        string `toml:"app_cert_file"`
	AlipayCertFile     string `toml:"alipay_cert_file"`
	AlipayRootCertFile string `toml:"alipay_root_cert_file"`
	// PayPID is the merchant PID for the two-stage decode. Default "";
	// required unless sandbox.
	PayPID string `toml:"pay_pid"`
	// Timeout bounds each gateway call. Default 15s; must be > 0.
	Timeout Duration `toml:"timeout"`
}

// Sandbox reports whether the embedded simulator stands in for the gateway.
func (a AlipayConfig) Sandbox() bool { return a.Gateway == GatewaySandbox }

// CertMode reports whether any certificate key is set (Validate then
// requires all three).
func (a AlipayConfig) CertMode() bool {
	return a.AppCertFile != "" || a.AlipayCertFile != "" || a.AlipayRootCertFile != ""
}

// ScannerConfig is [scanner]: where scans come from.
type ScannerConfig struct {
	// Device is a serial port ("/dev/ttyUSB0", "COM3", a pty) or "stdin".
	// Default "stdin".
	Device string `toml:"device"`
	// Baud is the serial speed in bit/s, 8N1. Default 9600; must be > 0.
	Baud int `toml:"baud"`
	// FrameGap is the silence that ends a frame sent with no CR/LF.
	// Default 200ms; 0 = off (frames end only at CR/LF).
	FrameGap Duration `toml:"frame_gap"`
	// DedupeWindow: the same code scanned again within it counts once.
	// Default 2s; 0 = off.
	DedupeWindow Duration `toml:"dedupe_window"`
}

// CheckoutConfig is [checkout]: how long a payment may stay unresolved.
type CheckoutConfig struct {
	// QueryInterval is the trade.query polling interval. Default 3s; > 0.
	QueryInterval Duration `toml:"query_interval"`
	// DecisionDeadline, counted from the first trade.pay send: a trade still
	// unresolved then is cancelled. Default 60s; must exceed QueryInterval.
	DecisionDeadline Duration `toml:"decision_deadline"`
	// OnDecodeUnavailable is what happens when the two-stage decode cannot
	// reach the gateway: "abort" (the checkout goes back to awaiting a scan,
	// with error GATEWAY_UNAVAILABLE, for the cashier to scan again or take
	// another payment method) or "pay_without_coupons".
	// Default "abort".
	OnDecodeUnavailable string `toml:"on_decode_unavailable"`
	// LatePayWindow: a cancel answered ACQ.TRADE_NOT_EXIST is repeated
	// until this long after the last trade.pay send, as the pay may still
	// land. Default 5m; > 0.
	LatePayWindow Duration `toml:"late_pay_window"`
	// AttentionRecheck is how often a needs_attention checkout's trade is
	// queried again. Default 1h; > 0.
	AttentionRecheck Duration `toml:"attention_recheck"`
	// ScanTimeout: a checkout awaiting a scan longer than this (from its
	// creation) is cancelled with SCAN_TIMEOUT. Default 5m; > 0.
	ScanTimeout Duration `toml:"scan_timeout"`
}

// MarketingConfig is [marketing].
type MarketingConfig struct {
	// ConsultScene is the scene for scene.cooperation.consult on each decoded
	// user. Default ""; empty: no consult call.
	ConsultScene string `toml:"consult_scene"`
}

// CouponsConfig is [coupons].
type CouponsConfig struct {
	// ReportURL is the merchant backend that receives coupon redemption
	// reports (http or https). Default ""; empty: no reports.
	ReportURL string `toml:"report_url"`
}

// QueueConfig is [queue]: the durable retry queue.
type QueueConfig struct {
	// MaxAge: a job still failing this long after it was queued is
	// dead-lettered and logged loudly. Default 72h; must be > 0.
	MaxAge Duration `toml:"max_age"`
}

// APIConfig is [api]: the local HTTP API for the register software.
type APIConfig struct {
	// Listen is the host:port of the local API. Default "127.0.0.1:8089".
	Listen string `toml:"listen"`
	// TokenFile holds the bearer token; created with mode 0600 on first start
	// if absent. Default "data/api.token" (relative to the config file's
	// folder, not to data_dir).
	TokenFile string `toml:"token_file"`
	// CORSOrigins are browser origins ("http://register.local:3000")
	// allowed to call the API. Default none.
	CORSOrigins []string `toml:"cors_origins"`
	// Hosts are extra Host names the API answers to besides localhost,
	// 127.0.0.1, [::1] and listen's host (a DNS-rebinding guard; others get
	// 421). Default none.
	Hosts []string `toml:"hosts"`
}

// ReconcileConfig is [reconcile]: the store's day and the daily check of
// the takings against Alipay's bill.
type ReconcileConfig struct {
	// At is the time of day ("HH:MM", 24 h, in Timezone) at which the
	// previous day is reconciled against Alipay's bill. Default "10:00";
	// "" = off (posagent reconcile still runs one by hand).
	At string `toml:"at"`
	// Timezone is the zone of the store's day, for the daily report and
	// the bills: an IANA name. Default "Asia/Shanghai".
	Timezone string `toml:"timezone"`
}

// LogConfig is [log].
type LogConfig struct {
	// File receives JSON log lines, rotated by size. Default
	// "logs/posagent.log"; its folder is created if missing; empty: no file,
	// stderr only.
	File string `toml:"file"`
	// Level is "debug", "info", "warn" or "error". Default "info".
	Level string `toml:"level"`
	// MaxSizeMB is the size in megabytes at which the file is rotated.
	// Default 50; 0 = the rotation library's default (100).
	MaxSizeMB int `toml:"max_size_mb"`
	// MaxBackups is how many rotated files are kept. Default 10; 0 = all.
	MaxBackups int `toml:"max_backups"`
	// Heartbeat is the interval of the "status" log line. Default 5m; > 0.
	Heartbeat Duration `toml:"heartbeat"`
}

// DefaultConfig returns the built-in defaults: sandbox gateway, scanner on
// stdin, state in "data", the API on 127.0.0.1:8089. Paths are relative, as
// written in config.example.toml; LoadConfig resolves them.
func DefaultConfig() Config {
	return Config{
		Terminal: TerminalConfig{
			StoreID:    "S001",
			TerminalID: "T01",
			DataDir:    "data",
		},
		Data: DataConfig{Retention: Duration(9600 * time.Hour)},
		Alipay: AlipayConfig{
			Gateway:  GatewaySandbox,
			SignType: SignTypeRSA2,
			Timeout:  Duration(15 * time.Second),
		},
		Scanner: ScannerConfig{
			Device:       DeviceStdin,
			Baud:         9600,
			FrameGap:     Duration(200 * time.Millisecond),
			DedupeWindow: Duration(2 * time.Second),
		},
		Checkout: CheckoutConfig{
			QueryInterval:       Duration(3 * time.Second),
			DecisionDeadline:    Duration(60 * time.Second),
			OnDecodeUnavailable: OnDecodeAbort,
			LatePayWindow:       Duration(5 * time.Minute),
			AttentionRecheck:    Duration(time.Hour),
			ScanTimeout:         Duration(5 * time.Minute),
		},
		Queue: QueueConfig{MaxAge: Duration(72 * time.Hour)},
		API: APIConfig{
			Listen:      "127.0.0.1:8089",
			CORSOrigins: []string{},
			Hosts:       []string{},
			TokenFile:   "data/api.token",
		},
		Reconcile: ReconcileConfig{At: "10:00", Timezone: "Asia/Shanghai"},
		Log: LogConfig{
			File:       "logs/posagent.log",
			Level:      "info",
			MaxSizeMB:  50,
			MaxBackups: 10,
			Heartbeat:  Duration(5 * time.Minute),
		},
	}
}

// LoadConfig reads the config file at path over DefaultConfig and resolves
// relative paths against the file's folder. It does not call Validate.
//
// An empty path means DefaultConfigPath, which may be missing: LoadConfig then
// returns the defaults (resolved against the working directory) with File
// empty, so the caller can say so. A path given explicitly must exist.
//
// Every error is a *ConfigError naming the file and, where there is one, the
// line and the key: an unknown key, a value of the wrong type or a bad
// duration, a TOML syntax error, or a file that cannot be read. Several
// unknown keys are reported together (errors.Join of *ConfigError).
func LoadConfig(path string) (Config, error) {
	optional := path == ""
	if optional {
		path = DefaultConfigPath
	}
	data, err := readConfigFile(path)
	if optional && errors.Is(err, fs.ErrNotExist) {
		cfg := DefaultConfig()
		cfg.src.name = "built-in defaults"
		cfg.resolvePaths(".")
		return cfg, nil
	}
	if err != nil {
		return Config{}, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Config{}, &ConfigError{File: path, Msg: err.Error(), Err: err}
	}
	cfg, err := parseConfig(path, data)
	if err != nil {
		return Config{}, err
	}
	cfg.File = abs
	cfg.resolvePaths(filepath.Dir(abs))
	return cfg, nil
}

// parseConfig decodes the text of a config file named name over
// DefaultConfig, with paths left as written.
func parseConfig(name string, data []byte) (Config, error) {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return Config{}, &ConfigError{File: name, Line: 1, Msg: "config file is UTF-16; save it as UTF-8"}
	}
	// Windows editors like to start UTF-8 files with a byte order mark.
	data = bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})
	cfg := DefaultConfig()
	if err := decodeConfig(name, data, &cfg); err != nil {
		return Config{}, err
	}
	cfg.src.name = name
	return cfg, nil
}

// readConfigFile reads a config file of at most maxConfigSize bytes.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		msg := "cannot read config file: " + err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "config file not found"
		}
		return nil, &ConfigError{File: path, Msg: msg, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, &ConfigError{File: path, Msg: "cannot read config file: " + err.Error(), Err: err}
	}
	if len(data) > maxConfigSize {
		return nil, &ConfigError{File: path, Msg: fmt.Sprintf("config file larger than %d bytes", maxConfigSize)}
	}
	return data, nil
}

// decodeConfig decodes data strictly over *cfg. On success it records the
// line of every key for Validate. It reports every unknown key and every
// duration that is not a string; of other problems, the first.
func decodeConfig(name string, data []byte, cfg *Config) error {
	idx := indexTOML(data)
	// A duration written as a bare number decodes (as nanoseconds), so this
	// check comes first and its findings join whatever the decoder finds.
	errs := durationKinds(name, idx)
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		found, more := locateDecodeError(name, idx, err)
		var missing *toml.StrictMissingError
		if !errors.As(err, &missing) {
			// Decoding stopped at found[0]: keep what lies before it, and
			// for the same key, the clearer message of durationKinds.
			first := found[0]
			errs = slices.DeleteFunc(errs, func(e *ConfigError) bool {
				return first.Line > 0 && e.Line > first.Line
			})
			if slices.ContainsFunc(errs, func(e *ConfigError) bool { return e.Line == first.Line && e.Key == first.Key }) ||
				(first.Line == 0 && len(errs) > 0) { // go-toml gave no position: durationKinds found the cause
				found = nil
			}
		}
		return joinConfigErrors(append(errs, found...), more)
	}
	// go-toml matches keys case-insensitively when no tag matches exactly;
	// the contract names them exactly, so "Device" is as unknown as "devise".
	found, more := exactKeys(name, idx)
	if err := joinConfigErrors(append(errs, found...), more); err != nil {
		return err
	}
	cfg.src.lines = idx.lines()
	return nil
}

// resolvePaths makes the relative paths of c absolute against dir (made
// absolute itself when possible). Empty paths stay empty.
func (c *Config) resolvePaths(dir string) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	for _, p := range []*string{
		&c.Terminal.DataDir,
		&c.Alipay.AppPrivateKeyFile,
		&c.Alipay.AlipayPublicKeyFile,
		&c.Alipay.AppCertFile,
		&c.Alipay.AlipayCertFile,
		&c.Alipay.AlipayRootCertFile,
		&c.API.TokenFile,
		&c.Log.File,
	} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// Source describes where the values came from, for the startup log line.
func (c *Config) Source() string {
	if c.File == "" {
		return "built-in defaults (no " + DefaultConfigPath + ")"
	}
	return c.File
}
