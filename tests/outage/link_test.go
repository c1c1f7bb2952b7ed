package outage_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// linkFailure is how a link fails while it is down.
type linkFailure int

const (
	// refuse: dials are refused as the kernel refuses a closed loopback
	// port (ECONNREFUSED), and open connections are reset (ECONNRESET): a
	// gateway process that is gone, a router that answers with RST.
	refuse linkFailure = iota
	// blackhole: packets vanish. Dials hang until the caller gives up (or
	// the link returns), writes are swallowed, reads wait until the caller
	// closes the connection: a dead uplink, where only timeouts tell.
	// Connections caught in it are reset when the link returns (the
	// router's state for them is gone).
	blackhole
)

func (f linkFailure) String() string { return [...]string{"refuse", "blackhole"}[f] }

// link is an in-memory TCP path to one server: a net.Listener for an
// http.Server and a DialContext for an http.Transport, joined by net.Pipe
// connections. Sockets would not let a synctest bubble settle; pipes do.
//
// Down is the store's internet going away, failing as its linkFailure
// says; Up brings it back. The server keeps running throughout, as the
// gateway does while a store is cut off.
type link struct {
	name    string
	addr    *net.TCPAddr
	failure linkFailure
	// dialTimeout bounds a dial into a blackhole, as the client's
	// net.Dialer Timeout does (0: only the caller's ctx).
	dialTimeout time.Duration

	accept    chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	down     bool
	downCh   chan struct{} // closed by Down, replaced by Up
	upCh     chan struct{} // closed by Up, replaced by Down
	conns    map[*pipeConn]struct{}
	dead     map[*pipeConn]struct{} // caught in a blackhole
	nextPort int

	dials   atomic.Int64 // connections made
	refused atomic.Int64 // dials that failed while down
}

func newLink(name string, port int, failure linkFailure) *link {
	up := make(chan struct{})
	close(up)
	return &link{
		name:     name,
		addr:     &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port},
		failure:  failure,
		accept:   make(chan net.Conn),
		closed:   make(chan struct{}),
		downCh:   make(chan struct{}),
		upCh:     up,
		conns:    make(map[*pipeConn]struct{}),
		dead:     make(map[*pipeConn]struct{}),
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

// DialContext connects to the server; while the link is down it is
// refused, or hangs until ctx ends or the link returns. It serves only the
// link's own address.
func (l *link) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" || addr != l.addr.String() {
		return nil, fmt.Errorf("link %s: dial %s %s: only %s is on this link", l.name, network, addr, l.addr)
	}
	for {
		l.mu.Lock()
		down, up := l.down, l.upCh
		l.mu.Unlock()
		if !down {
			break
		}
		if l.failure == refuse {
			l.refused.Add(1)
			return nil, l.refusedError()
		}
		var timeout <-chan time.Time
		if l.dialTimeout > 0 {
			timeout = time.After(l.dialTimeout)
		}
		select { // SYNs into the void
		case <-up:
		case <-ctx.Done():
			l.refused.Add(1)
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: l.addr, Err: ctx.Err()}
		case <-timeout:
			l.refused.Add(1)
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: l.addr, Err: os.ErrDeadlineExceeded}
		case <-l.closed:
			return nil, l.refusedError()
		}
	}
	l.mu.Lock()
	l.nextPort++
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: l.nextPort}
	a, b := net.Pipe()
	client := newPipeConn(a, l, local, l.addr)
	server := newPipeConn(b, l, l.addr, local)
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
		return nil, l.refusedError()
	}
}

// Down cuts the link: open connections are reset (refuse) or go dead
// (blackhole), and dials fail.
func (l *link) Down() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return
	}
	l.down = true
	l.upCh = make(chan struct{})
	for c := range l.conns {
		if l.failure == blackhole {
			c.dead.Store(true)
			l.dead[c] = struct{}{}
		}
		c.reset.Store(true)
		c.Conn.Close()
	}
	clear(l.conns)
	close(l.downCh) // last: a held call's reply must find its connection gone
}

// Up restores the link. Connections caught in a blackhole are reset.
func (l *link) Up() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down {
		return
	}
	l.down = false
	l.downCh = make(chan struct{})
	close(l.upCh)
	for c := range l.dead {
		c.release()
	}
	clear(l.dead)
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
	delete(l.dead, c)
	l.mu.Unlock()
}

// pipeConn is one end of a link connection: a net.Pipe end with TCP
// addresses, whose errors after a reset are ECONNRESET as a socket's are.
// A dead end (blackhole) swallows writes, and its reads wait until it is
// closed or the link returns.
type pipeConn struct {
	net.Conn
	link          *link
	local, remote net.Addr
	reset         atomic.Bool
	dead          atomic.Bool
	released      chan struct{} // closed by Close, or by Up for a dead end
	releaseOnce   sync.Once
}

func newPipeConn(c net.Conn, l *link, local, remote net.Addr) *pipeConn {
	return &pipeConn{Conn: c, link: l, local: local, remote: remote, released: make(chan struct{})}
}

func (c *pipeConn) release() { c.releaseOnce.Do(func() { close(c.released) }) }

func (c *pipeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil && c.dead.Load() {
		<-c.released
	}
	if err != nil && c.reset.Load() {
		err = c.resetError("read")
	}
	return n, err
}

func (c *pipeConn) Write(b []byte) (int, error) {
	if c.dead.Load() {
		return c.void(b)
	}
	n, err := c.Conn.Write(b)
	if err != nil && c.dead.Load() {
		return c.void(b)
	}
	if err != nil && c.reset.Load() {
		err = c.resetError("write")
	}
	return n, err
}

// void swallows a write on a dead end, until the link returns (reset) or
// the end is closed.
func (c *pipeConn) void(b []byte) (int, error) {
	select {
	case <-c.released:
		return 0, c.resetError("write")
	default:
		return len(b), nil
	}
}

func (c *pipeConn) resetError(op string) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.local, Addr: c.remote, Err: os.NewSyscallError(op, syscall.ECONNRESET)}
}

func (c *pipeConn) Close() error {
	c.link.forget(c)
	c.release()
	return c.Conn.Close()
}

func (c *pipeConn) LocalAddr() net.Addr  { return c.local }
func (c *pipeConn) RemoteAddr() net.Addr { return c.remote }
