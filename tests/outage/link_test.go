package outage_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// link is an in-memory TCP path to one server: a net.Listener for an
// http.Server and a DialContext for an http.Transport, joined by net.Pipe
// connections. Sockets would not let a synctest bubble settle; pipes do.
//
// Down is the store's internet going away: dials are refused as the kernel
// refuses a closed loopback port, and every open connection is reset. Up
// brings it back. The server keeps running throughout, as the gateway
// does while a store is cut off.
type link struct {
	name string
	addr *net.TCPAddr

	accept    chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	down     bool
	downCh   chan struct{} // closed by Down, replaced by Up
	conns    map[*pipeConn]struct{}
	nextPort int

	dials   atomic.Int64 // connections made
	refused atomic.Int64 // dials refused while down
}

func newLink(name string, port int) *link {
	return &link{
		name:     name,
		addr:     &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port},
		accept:   make(chan net.Conn),
		closed:   make(chan struct{}),
		downCh:   make(chan struct{}),
		conns:    make(map[*pipeConn]struct{}),
		nextPort: 40000,
	}
}

// URL is the server's URL for path.
func (l *link) URL(path string) string { return "http://" + l.addr.String() + path }

// Accept implements net.Listener.
func (l *link) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener; it also releases every held call.
func (l *link) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Addr implements net.Listener.
func (l *link) Addr() net.Addr { return l.addr }

// refusedError is what connect(2) to a closed loopback port gives.
func (l *link) refusedError() error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: l.addr, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// DialContext connects to the server, or is refused while the link is
// down. It serves only the link's own address.
func (l *link) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" || addr != l.addr.String() {
		return nil, fmt.Errorf("link %s: dial %s %s: only %s is on this link", l.name, network, addr, l.addr)
	}
	l.mu.Lock()
	if l.down {
		l.mu.Unlock()
		l.refused.Add(1)
		return nil, l.refusedError()
	}
	l.nextPort++
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: l.nextPort}
	a, b := net.Pipe()
	client := &pipeConn{Conn: a, link: l, local: local, remote: l.addr}
	server := &pipeConn{Conn: b, link: l, local: l.addr, remote: local}
	l.conns[client], l.conns[server] = struct{}{}, struct{}{}
	l.mu.Unlock()
	select {
	case l.accept <- server:
		l.dials.Add(1)
		return client, nil
	case <-ctx.Done():
		client.Close()
		server.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: l.addr, Err: ctx.Err()}
	case <-l.closed:
		client.Close()
		server.Close()
		l.refused.Add(1)
		return nil, l.refusedError()
	}
}

// Down cuts the link: dials are refused and open connections reset.
func (l *link) Down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return
	}
	l.down = true
	close(l.downCh)
	for c := range l.conns {
		c.reset.Store(true)
		c.Conn.Close()
	}
	clear(l.conns)
}

// Up restores the link.
func (l *link) Up() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		l.down = false
		l.downCh = make(chan struct{})
	}
}

// IsDown reports whether the link is cut.
func (l *link) IsDown() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.down
}

// waitCut blocks until the link goes down or its server stops: a held
// call waits here, so that its reply is lost with the link.
func (l *link) waitCut() {
	l.mu.Lock()
	ch := l.downCh
	l.mu.Unlock()
	select {
	case <-ch:
	case <-l.closed:
	}
}

func (l *link) forget(c *pipeConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// pipeConn is one end of a link connection: a net.Pipe end with TCP
// addresses, whose errors after a reset are ECONNRESET as a socket's are.
type pipeConn struct {
	net.Conn
	link          *link
	local, remote net.Addr
	reset         atomic.Bool
}

func (c *pipeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && c.reset.Load() {
		err = c.resetError("read")
	}
	return n, err
}

func (c *pipeConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil && c.reset.Load() {
		err = c.resetError("write")
	}
	return n, err
}

func (c *pipeConn) resetError(op string) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.local, Addr: c.remote, Err: os.NewSyscallError(op, syscall.ECONNRESET)}
}

func (c *pipeConn) Close() error {
	c.link.forget(c)
	return c.Conn.Close()
}

func (c *pipeConn) LocalAddr() net.Addr  { return c.local }
func (c *pipeConn) RemoteAddr() net.Addr { return c.remote }
