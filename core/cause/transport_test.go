package cause

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"testing"
	"time"
)

// Real errors from the Go stack on loopback, classified by type.
func TestTransportEvidence(t *testing.T) {
	if e := TransportEvidence(nil, "x"); e != (Evidence{}) {
		t.Fatalf("nil error gave %+v", e)
	}

	// Refused: a port that was just closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = net.DialTimeout("tcp", addr, 2*time.Second)
	expectCode(t, "refused", err, CodeRefused, WrongSettings)

	// TLS spoken to a plain-text IMAP port.
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "* OK IMAP4rev1 ready\r\n")
			time.Sleep(200 * time.Millisecond)
			c.Close()
		}
	}()
	d := &net.Dialer{Timeout: 2 * time.Second}
	_, err = tls.DialWithDialer(d, "tcp", plain.Addr().String(), &tls.Config{ServerName: "imap.example.org"})
	expectCode(t, "tls on plain port", err, CodeTLSOnPlainPort, WrongSettings)

	// Read timeout after connecting.
	c, err := net.Dial("tcp", plain.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	_, _ = c.Read(buf) // greeting
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c.Read(buf)
	c.Close()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		e := TransportEvidence(err, "imap.greeting")
		if e.Code != CodeTimeout && e.Code != CodeReset {
			t.Errorf("read timeout: code %q (%v)", e.Code, err)
		}
	}

	// Certificates: unknown authority and wrong name.
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	host := srv.Listener.Addr().String()
	_, err = tls.DialWithDialer(d, "tcp", host, &tls.Config{ServerName: "example.com"})
	expectCode(t, "unknown authority", err, CodeX509UnknownAuthority, WrongSettings)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	_, err = tls.DialWithDialer(d, "tcp", host, &tls.Config{ServerName: "imap.example.org", RootCAs: pool})
	expectCode(t, "hostname", err, CodeX509Hostname, WrongSettings)

	// DNS: not found versus resolver timeout.
	expectCode(t, "dns", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "imap.gmial.com", IsNotFound: true}}, CodeDNS, WrongSettings)
	expectCode(t, "dns timeout", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "imap.gmail.com", IsTimeout: true}}, CodeDNSTimeout, ProviderUnavailable)
}

func expectCode(t *testing.T, name string, err error, code string, cause ID) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", name)
		return
	}
	e := TransportEvidence(err, "probe")
	if e.Kind != KindTransport || e.Code != code || e.Text == "" || e.Check != "probe" {
		t.Errorf("%s: evidence %+v, want code %s (%v)", name, e, code, err)
		return
	}
	if d := Classify([]Evidence{e}, Context{}); d.Cause != cause {
		t.Errorf("%s: classified %v, want %s", name, d, cause)
	}
}
