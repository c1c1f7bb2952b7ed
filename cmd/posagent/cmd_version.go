package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// VersionCommand implements "posagent version": it prints the version, the
// Go version and the platform, e.g. "posagent 1.2.3 go1.26.0 linux/arm64".
type VersionCommand struct {
	Streams
	Config ConfigFlag // accepted like on every verb; version does not read it
}

// Run implements Command.
func (c *VersionCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("version", "", `
Prints the version of posagent (set at build time with
-ldflags "-X main.version=..."; "dev" otherwise), the Go version it was built
with, and the platform.`, c.Stderr)
	c.Config.register(fs)
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "posagent %s %s %s/%s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// buildVersion is version, or the module version when the binary was built
// with "go install posagent/cmd/posagent@v1.2.3" and no -X flag.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}
