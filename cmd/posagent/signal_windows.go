package main

import (
	"os"
	"syscall"
)

// shutdownSignals start a graceful shutdown. On Windows, Go delivers Ctrl-C
// and Ctrl-Break as os.Interrupt, and closing the console, logging off and
// shutting down as syscall.SIGTERM; after the latter Windows ends the process
// within a few seconds whatever it is doing, so the drain must be short.
var shutdownSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// reopenLogsOnSignal does nothing on Windows, which has no SIGHUP; the log
// is rotated by size ([log] max_size_mb) instead.
func (d *daemon) reopenLogsOnSignal() (stop func()) { return func() {} }
