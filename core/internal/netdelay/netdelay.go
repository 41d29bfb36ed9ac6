// Package netdelay adds network latency to loopback connections, for
// benchmarks and tests that must see how checks behave over a real, slow
// network.
//
// A Proxy listens on 127.0.0.1 and forwards every connection to a target,
// holding each chunk of data for a fixed one-way delay in each direction:
// a request and its answer cost two delays, as a round trip over a link
// with that latency would. The delay models latency, not bandwidth: every
// chunk is stamped when it arrives and leaves at stamp+delay, so bytes
// written back to back (pipelined) all arrive one delay later, not one
// delay each.
//
// A Dialer routes every connection it opens through a Proxy for the target
// address (one per target, started on first use) and charges the TCP
// handshake's round trip before the connection is handed out. It plugs into
// probe.Options.Dialer and http.Transport.DialContext.
package netdelay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// chunkSize is the most one read forwards as one chunk.
const chunkSize = 32 << 10

// queueLen is how many chunks may be in flight in one direction before the
// reading side waits (back-pressure, like a full TCP window).
const queueLen = 256

// dialTimeout bounds the proxy's connect to its target.
const dialTimeout = 5 * time.Second

// Proxy forwards TCP connections from its loopback address to a target
// address, delaying each direction by a fixed one-way delay. It is safe for
// concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	done   chan struct{}
}

// Listen starts a Proxy on 127.0.0.1 (a free port) that forwards to target
// ("host:port") with the given one-way delay (negative counts as zero).
// Close stops it.
func Listen(target string, delay time.Duration) (*Proxy, error) {
	if delay < 0 {
		delay = 0
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netdelay: listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target, delay: delay, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr returns the proxy's "127.0.0.1:port" address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Delay returns the one-way delay.
func (p *Proxy) Delay() time.Duration { return p.delay }

// Close stops accepting, closes every forwarded connection at once (data
// still queued is dropped) and waits until the proxy's goroutines ended.
// It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	err := p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// track registers c so Close can close it; false when the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// forward connects client to the target and runs both directions until
// each has ended (or either failed, or the proxy closed).
func (p *Proxy) forward(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		_ = client.Close()
		return
	}
	defer p.untrack(client)
	defer client.Close()
	d := net.Dialer{Timeout: dialTimeout}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	server, err := d.DialContext(ctx, "tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		_ = server.Close()
		return
	}
	defer p.untrack(server)
	defer server.Close()

	abort := make(chan struct{})
	var once sync.Once
	kill := func() {
		once.Do(func() {
			close(abort)
			_ = client.Close()
			_ = server.Close()
		})
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(server, client, abort, kill) }()
	go func() { defer wg.Done(); p.pipe(client, server, abort, kill) }()
	wg.Wait()
}

// chunk is data read at one moment, due at its arrival time plus the delay;
// an empty chunk with eof set is the end of the direction.
type chunk struct {
	b   []byte
	due time.Time
	eof bool
}

// pipe forwards src to dst, each chunk one delay after it was read. When
// src ends, dst's write side is shut (after the delay) so the peer sees
// the end as it would over the network. Any write failure or a proxy
// Close calls kill, which ends both directions.
func (p *Proxy) pipe(dst, src net.Conn, abort <-chan struct{}, kill func()) {
	q := make(chan chunk, queueLen)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, chunkSize)
			n, err := src.Read(buf)
			now := time.Now()
			if n > 0 {
				select {
				case q <- chunk{b: buf[:n], due: now.Add(p.delay)}:
				case <-abort:
					return
				}
			}
			if err != nil {
				select {
				case q <- chunk{eof: true, due: now.Add(p.delay)}:
				case <-abort:
				}
				return
			}
		}
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for c := range q {
		if wait := time.Until(c.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-abort:
				kill()
				continue // drain until the reader sees the closed conn
			case <-p.done:
				kill()
				continue
			}
		}
		select {
		case <-abort:
			continue
		default:
		}
		if c.eof {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				if cw.CloseWrite() == nil {
					continue
				}
			}
			kill()
			continue
		}
		if _, err := dst.Write(c.b); err != nil {
			kill()
		}
	}
}

// Dialer opens TCP connections through a delaying Proxy per target
// address. The zero value is not usable; use NewDialer. Close stops the
// proxies. It is safe for concurrent use.
type Dialer struct {
	delay time.Duration

	mu      sync.Mutex
	closed  bool
	proxies map[string]*Proxy
}

// NewDialer returns a Dialer with the given one-way delay.
func NewDialer(delay time.Duration) *Dialer {
	if delay < 0 {
		delay = 0
	}
	return &Dialer{delay: delay, proxies: map[string]*Proxy{}}
}

// Delay returns the one-way delay.
func (d *Dialer) Delay() time.Duration { return d.delay }

// ErrClosed is returned by DialContext after Close.
var ErrClosed = errors.New("netdelay: dialer closed")

// proxy returns the Proxy for address, starting it on first use.
func (d *Dialer) proxy(address string) (*Proxy, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if p, ok := d.proxies[address]; ok {
		return p, nil
	}
	p, err := Listen(address, d.delay)
	if err != nil {
		return nil, err
	}
	d.proxies[address] = p
	return p, nil
}

// DialContext connects to address ("host:port") through the Proxy for it.
// It first waits one round trip (two delays), the cost of TCP's handshake,
// so a new connection costs what it costs over the modelled link. Only
// TCP networks are supported. The connection to the proxy itself is
// immediate; a target that refuses shows as a connection closed by the
// server.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("netdelay: network %q not supported", network)
	}
	p, err := d.proxy(address)
	if err != nil {
		return nil, err
	}
	if rtt := 2 * d.delay; rtt > 0 {
		t := time.NewTimer(rtt)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", p.Addr())
	if err != nil {
		return nil, fmt.Errorf("netdelay: dial %s: %w", address, err)
	}
	return c, nil
}

// Close stops every proxy the Dialer started (their connections close at
// once); later dials fail with ErrClosed.
func (d *Dialer) Close() error {
	d.mu.Lock()
	d.closed = true
	ps := d.proxies
	d.proxies = map[string]*Proxy{}
	d.mu.Unlock()
	var first error
	for _, p := range ps {
		if err := p.Close(); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
	}
	return first
}
