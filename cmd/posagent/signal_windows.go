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
