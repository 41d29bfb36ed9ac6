package testpki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSetVerifiesAsIntended(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"localhost", "127.0.0.1", "127.0.0.2", "::1"} {
		if _, err := s.Server.Cert.Verify(x509.VerifyOptions{Roots: s.Pool, DNSName: name}); err != nil {
			t.Errorf("server cert for %s: %v", name, err)
		}
		_, err := s.WrongName.Cert.Verify(x509.VerifyOptions{Roots: s.Pool, DNSName: name})
		var he x509.HostnameError
		if !errors.As(err, &he) {
			t.Errorf("wrong-name cert for %s: got %v, want HostnameError", name, err)
		}
	}
	_, err = s.Expired.Cert.Verify(x509.VerifyOptions{Roots: s.Pool, DNSName: "localhost"})
	var ie x509.CertificateInvalidError
	if !errors.As(err, &ie) || ie.Reason != x509.Expired {
		t.Errorf("expired cert: got %v, want Expired", err)
	}
	// A foreign pool must not trust the leaf.
	if _, err := s.Server.Cert.Verify(x509.VerifyOptions{Roots: x509.NewCertPool(), DNSName: "localhost"}); err == nil {
		t.Error("server cert verified without its CA")
	}
}

func TestFilesLoadAndHandshake(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(s.Server.CertFile, s.Server.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(pair.Certificate) != 2 {
		t.Errorf("chain file has %d certificates, want 2", len(pair.Certificate))
	}
	if fi, err := os.Stat(s.Server.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
	caPEM, err := os.ReadFile(s.CertFile)
	if err != nil || !strings.Contains(string(caPEM), "BEGIN CERTIFICATE") {
		t.Fatalf("CA file: %v", err)
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), s.ClientConfig("127.0.0.1"))
	if err != nil {
		t.Fatalf("handshake with CA pool: %v", err)
	}
	c.Close()
	_, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1"})
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Errorf("handshake with empty pool: got %v, want UnknownAuthorityError", err)
	}
}

func TestIssueRejectsPathName(t *testing.T) {
	ca, err := NewCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Issue(LeafOptions{Name: "../x"}); err == nil {
		t.Error("Issue accepted a path as name")
	}
}
