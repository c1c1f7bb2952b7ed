//go:build !windows

package main

import (
	"os"
	"syscall"
)

// shutdownSignals start a graceful shutdown. SIGHUP is among them because its
// default action would kill the daemon without the drain when its terminal
// goes away.
var shutdownSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}
