//go:build linux

package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Link is the store's network link to the gateway: a TCP forwarder on
// 127.0.0.1 in front of the sandbox that a test can cut (Down: every
// connection dropped, new ones refused) and restore (Up, on the same
// port), as a WAN outage does. The sandbox and its ledger are untouched.
type Link struct {
	addr   string // 127.0.0.1:port, the same across Down/Up
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// NewLink starts a forwarder to target (host:port); t.Cleanup stops it.
func NewLink(tb testing.TB, target string) *Link {
	tb.Helper()
	l := &Link{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	l.addr = ln.Addr().String()
	l.serve(ln)
	tb.Cleanup(func() {
		l.Down()
		l.wg.Wait()
	})
	return l
}

// Addr is the forwarder's address.
func (l *Link) Addr() string { return l.addr }

// Down cuts the link: open connections are reset, new ones refused.
func (l *Link) Down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for c := range l.conns {
		c.Close()
	}
}

// Up restores the link on the same port.
func (l *Link) Up(tb testing.TB) {
	tb.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago; retry a bind race briefly
		if ln, err = net.Listen("tcp", l.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		tb.Fatalf("link up: %v", err)
	}
	l.serve(ln)
}

func (l *Link) serve(ln net.Listener) {
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				l.forward(c)
			}()
		}
	}()
}

func (l *Link) track(c net.Conn, on bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if on && l.ln == nil {
		return false // went down meanwhile
	}
	if on {
		l.conns[c] = true
	} else {
		delete(l.conns, c)
	}
	return true
}

func (l *Link) forward(c net.Conn) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", l.target, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	if !l.track(c, true) || !l.track(up, true) {
		return
	}
	defer l.track(c, false)
	defer l.track(up, false)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src) // ends when either side closes or the link is cut
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go cp(up, c)
	go cp(c, up)
	<-done
	<-done
}
