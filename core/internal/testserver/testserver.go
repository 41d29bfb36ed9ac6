// Package testserver runs small TCP servers on loopback for tests: a
// handler per connection, every connection closed and every goroutine
// finished when the test ends.
package testserver

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"
)

// MaxLife bounds every connection, so a handler never outlives a test that
// forgot it.
const MaxLife = 30 * time.Second

// Serve listens on 127.0.0.1 (through TLS when cfg is not nil), runs handle
// for every connection in its own goroutine and returns the address. accepted,
// when not nil, gets a value for each connection without blocking. At the
// end of the test the listener and all connections are closed and Serve
// waits for the handlers to return.
func Serve(t testing.TB, cfg *tls.Config, accepted chan<- struct{}, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if accepted != nil {
				select {
				case accepted <- struct{}{}:
				default:
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(MaxLife))
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
