package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Build stamps, set by the release build (scripts/release.sh, .goreleaser.yaml):
//
//	go build -ldflags "-X main.version=1.2.3 -X main.commit=3f2a1c9 -X main.date=2026-12-04T11:00:00Z" ./cmd/posagent
//
// Empty commit and date fall back to the VCS stamp Go records in the binary
// (debug.ReadBuildInfo: vcs.revision, vcs.time), which a plain "go build" in
// a git work tree has.
var (
	commit = ""
	date   = ""
)

// VersionCommand implements "posagent version": it prints the version, the
// commit and build date, the Go version and the platform.
type VersionCommand struct {
	Streams
	Config ConfigFlag // accepted like on every verb; version does not read it
}

// Run implements Command.
func (c *VersionCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("version", "", `
Prints the version of posagent, the commit it was built from and when, the
Go version it was built with, and the platform:

  posagent 1.2.3
  commit   3f2a1c9e4b7d (modified when the work tree had changes)
  built    2026-12-04T11:00:00Z
  go       go1.26.0 linux/amd64

The version, commit and date are set at build time with
-ldflags "-X main.version=... -X main.commit=... -X main.date=..."; without
them the commit and date come from the VCS stamp of "go build", and the
version is "dev" (or the module version of "go install ...@v1.2.3").`, c.Stderr)
	c.Config.register(fs)
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	b := readBuild()
	fmt.Fprintf(c.Stdout, "posagent %s\ncommit   %s\nbuilt    %s\ngo       %s %s/%s\n",
		b.version, b.commit, b.date, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// build is what a binary knows about how it was built.
type build struct {
	version, commit, date string
}

// readBuild returns the -X stamps, falling back to the Go build info and
// then to "dev" and "unknown".
func readBuild() build {
	b := build{version: version, commit: commit, date: date}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if b.version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.version = bi.Main.Version
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.commit == "" {
					b.commit = s.Value
				}
			case "vcs.time":
				if b.date == "" {
					b.date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && b.commit != "" {
			b.commit += " (modified)"
		}
	}
	if b.commit == "" {
		b.commit = "unknown"
	}
	if b.date == "" {
		b.date = "unknown"
	}
	return b
}

// buildVersion is the version GET /v1/status and the log report: the -X
// stamp, or the module version when the binary was built with
// "go install posagent/cmd/posagent@v1.2.3", or "dev".
func buildVersion() string { return readBuild().version }
