//go:build !windows

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// shutdownSignals start a graceful shutdown.
var shutdownSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// reopenLogsOnSignal makes SIGHUP reopen the log file (after an external
// logrotate moved it) for as long as the daemon runs; the returned func
// stops that. SIGHUP never stops the daemon.
func (d *daemon) reopenLogsOnSignal() (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				if err := d.logs.Reopen(); err != nil {
					d.log.Error().Str("event", "log_reopen_failed").Err(err).Msg("could not reopen the log file")
					continue
				}
				d.log.Info().Str("event", "log_reopened").Msg("log file reopened on SIGHUP")
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
