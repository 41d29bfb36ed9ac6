package netdelay

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"github.com/mailmend/mailmend/core/internal/testserver"
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// echoServer echoes every connection until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	return server(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// server runs handle for every connection on a loopback listener.
func server(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	return testserver.Serve(t, nil, nil, handle)
}

func startProxy(t *testing.T, target string, delay time.Duration) *Proxy {
	t.Helper()
	p, err := Listen(target, delay)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestRoundTripCostsTwoDelays: a request and its answer take two one-way
// delays, no less, and not much more.
func TestRoundTripCostsTwoDelays(t *testing.T) {
	const delay = 30 * time.Millisecond
	p := startProxy(t, echoServer(t), delay)
	c := dial(t, p.Addr())
	buf := make([]byte, 16)
	var rtts []time.Duration
	for i := 0; i < 7; i++ {
		start := time.Now()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:4]); err != nil {
			t.Fatal(err)
		}
		rtt := time.Since(start)
		if rtt < 2*delay {
			t.Errorf("round trip %d took %v, less than two delays (%v)", i, rtt, 2*delay)
		}
		rtts = append(rtts, rtt)
	}
	if m := median(rtts); m > 2*delay+40*time.Millisecond {
		t.Errorf("median round trip %v, want about %v (all: %v)", m, 2*delay, rtts)
	}
}

// TestPipelinedWritesDoNotAddUp: many small writes in a row all arrive one
// delay later; the delay models latency, not throughput.
func TestPipelinedWritesDoNotAddUp(t *testing.T) {
	const delay = 40 * time.Millisecond
	const writes = 60
	p := startProxy(t, echoServer(t), delay)
	c := dial(t, p.Addr())
	got := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		buf := make([]byte, writes)
		if _, err := io.ReadFull(c, buf); err != nil {
			got <- -1
			return
		}
		got <- time.Since(start)
	}()
	for i := 0; i < writes; i++ {
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	span := time.Since(start)
	elapsed := <-got
	if elapsed < 0 {
		t.Fatal("echo failed")
	}
	if elapsed < 2*delay {
		t.Errorf("echo of %d writes took %v, less than a round trip", writes, elapsed)
	}
	// Accumulating delays would take writes*2*delay (4.8 s).
	if limit := span + 2*delay + 80*time.Millisecond; elapsed > limit {
		t.Errorf("echo of %d writes (sent over %v) took %v, want under %v", writes, span, elapsed, limit)
	}
}

// TestBulkDataIntact: a megabyte in both directions arrives whole and in
// order.
func TestBulkDataIntact(t *testing.T) {
	p := startProxy(t, echoServer(t), 5*time.Millisecond)
	c := dial(t, p.Addr())
	data := make([]byte, 1<<20)
	_, _ = rand.Read(data)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		errc <- err
	}()
	back := make([]byte, len(data))
	if _, err := io.ReadFull(c, back); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, data) {
		t.Fatal("data changed on the way")
	}
}

// TestEndOfStreamIsDelayed: a server that sends and closes: the client
// reads the data, then EOF, both a delay later.
func TestEndOfStreamIsDelayed(t *testing.T) {
	const delay = 30 * time.Millisecond
	addr := server(t, func(c net.Conn) { _, _ = c.Write([]byte("bye\r\n")) })
	p := startProxy(t, addr, delay)
	start := time.Now()
	c := dial(t, p.Addr())
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "bye\r\n" {
		t.Errorf("read %q", b)
	}
	if el := time.Since(start); el < delay {
		t.Errorf("greeting and EOF after %v, before one delay", el)
	}
}

// TestDialerHandshakeAndRouting: a Dialer's connection costs one round trip
// to open, another per exchange, and reaches the address asked for.
func TestDialerHandshakeAndRouting(t *testing.T) {
	const delay = 25 * time.Millisecond
	a := server(t, func(c net.Conn) { _, _ = c.Write([]byte("A")) })
	b := server(t, func(c net.Conn) { _, _ = c.Write([]byte("B")) })
	d := NewDialer(delay)
	t.Cleanup(func() { d.Close() })
	for _, tc := range []struct{ addr, want string }{{a, "A"}, {b, "B"}, {a, "A"}} {
		start := time.Now()
		c, err := d.DialContext(context.Background(), "tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 2*delay {
			t.Errorf("dial took %v, less than a round trip", el)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 1)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		if string(buf) != tc.want {
			t.Errorf("dial %s reached %q, want %q", tc.addr, buf, tc.want)
		}
		if el := time.Since(start); el < 3*delay {
			t.Errorf("first byte after %v, want at least %v", el, 3*delay)
		}
		c.Close()
	}
	d.mu.Lock()
	n := len(d.proxies)
	d.mu.Unlock()
	if n != 2 {
		t.Errorf("%d proxies for 2 targets", n)
	}
}

// TestDialerCancelAndClose: a dial waiting out the handshake returns when
// its context ends; after Close dials fail and open connections are cut.
func TestDialerCancelAndClose(t *testing.T) {
	d := NewDialer(2 * time.Second)
	addr := echoServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := d.DialContext(ctx, "tcp", addr); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("dial with an ending context: %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("cancelled dial returned after %v", el)
	}
	if _, err := d.DialContext(context.Background(), "udp", addr); err == nil {
		t.Error("udp dial accepted")
	}

	fast := NewDialer(time.Millisecond)
	c, err := fast.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := fast.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after the dialer closed")
	}
	if _, err := fast.DialContext(context.Background(), "tcp", addr); !errors.Is(err, ErrClosed) {
		t.Errorf("dial after Close: %v", err)
	}
	d.Close()
}

// TestProxyCloseStopsQueuedData: Close drops what is still queued and
// returns at once, even with a long delay.
func TestProxyCloseStopsQueuedData(t *testing.T) {
	p, err := Listen(echoServer(t), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	if _, err := c.Write([]byte("queued")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Close took %v", el)
	}
	if n, err := c.Read(make([]byte, 8)); err == nil {
		t.Errorf("read %d bytes after Close", n)
	}
}
