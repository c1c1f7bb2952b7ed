package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
)

// signalContext returns a context that is cancelled at the first shutdown
// signal (see shutdownSignals), which starts the verb's bounded drain. A
// second signal calls exit(1) at once. stop releases the signal handler and
// cancels the context; it may be called more than once.
func signalContext(parent context.Context, stderr io.Writer, exit func(int)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, shutdownSignals...)
	done := make(chan struct{})
	go watchSignals(sigs, done, cancel, stderr, exit)
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}
}

// watchSignals cancels at the first signal on sigs and calls exit(1) at the
// second, until done is closed.
func watchSignals(sigs <-chan os.Signal, done <-chan struct{}, cancel func(), stderr io.Writer, exit func(int)) {
	select {
	case s := <-sigs:
		fmt.Fprintf(stderr, "posagent: %v: shutting down; send it again to stop at once\n", s)
		cancel()
	case <-done:
		return
	}
	select {
	case s := <-sigs:
		fmt.Fprintf(stderr, "posagent: %v again: stopping now\n", s)
		exit(1)
	case <-done:
	}
}
