package sandbox

import (
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mailmend/mailmend/core/account"
)

type proto int

const (
	protoIMAP proto = iota
	protoSMTP
)

type portMode int

const (
	modeTLS       portMode = iota // implicit TLS with the good certificate
	modeStartTLS                  // plaintext greeting, STARTTLS offered
	modeWrongName                 // implicit TLS, certificate for another name
)

// chanListener hands connections accepted elsewhere to a protocol server's
// Serve loop.
type chanListener struct {
	ch      chan net.Conn
	done    chan struct{}
	once    sync.Once
	serving chan struct{} // closed at the first Accept: the server's Serve runs
	first   sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{}), serving: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	l.first.Do(func() { close(l.serving) })
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
}

// push hands c to the server, or closes it when the server is gone.
func (l *chanListener) push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *chanListener) drain() {
	for {
		select {
		case c := <-l.ch:
			c.Close()
		default:
			return
		}
	}
}

// trackedConn is a raw TCP connection that knows which account's port it
// came in on and tells the sandbox when it is closed.
type trackedConn struct {
	net.Conn
	user *user // nil on shared ports
	once sync.Once
	wg   *sync.WaitGroup
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.wg.Done)
	return err
}

// portUser returns the account whose port a protocol connection came in on.
func portUser(c net.Conn) *user {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if tc, ok := c.(*trackedConn); ok {
		return tc.user
	}
	return nil
}

// openPort listens on a new loopback port and serves proto there in mode.
func (sb *Sandbox) openPort(p proto, mode portMode, u *user) (account.Endpoint, error) {
	ln, err := sb.listen()
	if err != nil {
		return account.Endpoint{}, err
	}
	addr := ln.Addr().(*net.TCPAddr)
	ep := account.Endpoint{Host: "127.0.0.1", Port: addr.Port, Security: account.TLS}
	if mode == modeStartTLS {
		ep.Security = account.StartTLS
	}
	sb.goServe(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sb.dispatch(c, p, mode, u)
		}
	})
	return ep, nil
}

// dispatch decides what a new connection meets: the account's pre-login
// behaviour (outage, hostile greeting) or the protocol server.
func (sb *Sandbox) dispatch(c net.Conn, p proto, mode portMode, u *user) {
	var s Scenario = Healthy
	var f Flavour = Google
	if u != nil {
		sb.mu.Lock()
		sb.userLocked(u.email)
		s, f = u.scenario, u.spec.Flavour
		sb.mu.Unlock()
	}
	var cfg *tls.Config
	switch mode {
	case modeTLS:
		cfg = sb.goodTLS
	case modeWrongName:
		cfg = sb.wrongTLS
	}
	sb.connWG.Add(1)
	tc := &trackedConn{Conn: c, user: u, wg: &sb.connWG}
	var conn net.Conn = tc
	if cfg != nil {
		conn = tls.Server(tc, cfg)
	}
	switch {
	case s == ProviderUnavailable:
		sb.special(tc, func() { sb.refuse(conn, p, f, s) })
	case s == Hostile:
		sb.special(tc, func() { sb.hostile(conn, p) })
	case p == protoIMAP:
		sb.imapConns.push(conn)
	default:
		sb.smtpConns.push(conn)
	}
}

// refuse answers a connection during an outage (or Gmail's SMTP throttle)
// with one line and closes it.
func (sb *Sandbox) refuse(c net.Conn, p proto, f Flavour, s Scenario) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line := imapUnavailableGreeting(f)
	if p == protoSMTP {
		line = smtpConnectFail(f, s)
	}
	_, _ = c.Write([]byte(line + "\r\n"))
}

// hostile sends a greeting full of terminal escapes, then a line that does not
// end (up to 4 MiB or 10 seconds), then closes.
func (sb *Sandbox) hostile(c net.Conn, p proto) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	greet := "* OK " + hostilePayload + "\r\n* OK [ALERT] "
	if p == protoSMTP {
		greet = "220-" + hostilePayload + "\r\n220-"
	}
	if _, err := c.Write([]byte(greet)); err != nil {
		return
	}
	chunk := []byte(strings.Repeat("\x1b[5m\a AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1024))
	for sent := 0; sent < 4<<20; sent += len(chunk) {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// special runs f for a connection the sandbox answers itself; Close closes
// the raw connection raw so that f ends at once.
func (sb *Sandbox) special(c net.Conn, f func()) {
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		c.Close()
		return
	}
	if sb.specials == nil {
		sb.specials = map[net.Conn]struct{}{}
	}
	sb.specials[c] = struct{}{}
	sb.wg.Add(1)
	sb.mu.Unlock()
	go func() {
		defer sb.wg.Done()
		defer func() {
			sb.mu.Lock()
			delete(sb.specials, c)
			sb.mu.Unlock()
		}()
		f()
	}()
}
