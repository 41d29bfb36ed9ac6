// Package testpki makes a throw-away certificate authority and server
// certificates for tests that run real TLS servers on loopback.
//
// Everything is generated in memory (ECDSA P-256) and written as PEM files to
// a directory the caller owns, so a child process (Dovecot) can load the
// server key and a client subprocess can trust the CA through SSL_CERT_FILE.
// Nothing here is fit for production use: keys are short-lived and written
// unencrypted.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DefaultDNSNames and DefaultIPs are the names a certificate covers when the
// caller gives none: every loopback spelling the tests use.
var (
	DefaultDNSNames = []string{"localhost"}
	DefaultIPs      = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2), net.IPv6loopback}
)

// WrongName is the only DNS name a WrongName certificate covers. No test
// host answers to it, so verifying any loopback name against it fails.
const WrongName = "wrong-name.invalid"

// CA is a certificate authority that exists only for one test run.
type CA struct {
	// Cert is the self-signed CA certificate.
	Cert *x509.Certificate
	// Pool holds only Cert; use it as tls.Config.RootCAs.
	Pool *x509.CertPool
	// CertFile is the PEM file of Cert, suitable for SSL_CERT_FILE.
	CertFile string

	key *ecdsa.PrivateKey
	dir string
}

// Leaf is a server certificate issued by a CA, written to disk.
type Leaf struct {
	// TLS is the certificate and key, ready for tls.Config.Certificates.
	TLS tls.Certificate
	// Cert is the parsed leaf certificate.
	Cert *x509.Certificate
	// CertFile holds the leaf followed by the CA certificate (full chain, PEM).
	CertFile string
	// KeyFile holds the private key (PKCS#8 PEM, mode 0600).
	KeyFile string
}

// LeafOptions says what a server certificate covers and when it is valid.
// A zero value gives DefaultDNSNames and DefaultIPs, valid from an hour ago
// for 90 days (longer than any "expires soon" warning).
type LeafOptions struct {
	DNSNames  []string
	IPs       []net.IP
	NotBefore time.Time
	NotAfter  time.Time
	// Name is the file name stem in the CA's directory; empty means "server".
	Name string
}

// NewCA generates a CA and writes its certificate to dir/ca.pem. dir must
// exist; it is also where Issue writes leaves.
func NewCA(dir string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testpki: generate CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "mailmend test CA", Organization: []string{"mailmend tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(100 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("testpki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testpki: parse CA certificate: %w", err)
	}
	file := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(file, pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return nil, fmt.Errorf("testpki: write CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, Pool: pool, CertFile: file, key: key, dir: dir}, nil
}

// Issue generates a server certificate signed by the CA and writes
// NAME.pem (chain) and NAME.key to the CA's directory.
func (ca *CA) Issue(o LeafOptions) (*Leaf, error) {
	if o.Name == "" {
		o.Name = "server"
	}
	if filepath.Base(o.Name) != o.Name {
		return nil, errors.New("testpki: leaf name must be a plain file name")
	}
	if len(o.DNSNames) == 0 && len(o.IPs) == 0 {
		o.DNSNames, o.IPs = DefaultDNSNames, DefaultIPs
	}
	now := time.Now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(90 * 24 * time.Hour)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testpki: generate key: %w", err)
	}
	cn := "server"
	if len(o.DNSNames) > 0 {
		cn = o.DNSNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     o.DNSNames,
		IPAddresses:  o.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("testpki: create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testpki: parse certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("testpki: marshal key: %w", err)
	}
	chain := append(pemBlock("CERTIFICATE", der), pemBlock("CERTIFICATE", ca.Cert.Raw)...)
	leaf := &Leaf{
		TLS:      tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: cert},
		Cert:     cert,
		CertFile: filepath.Join(ca.dir, o.Name+".pem"),
		KeyFile:  filepath.Join(ca.dir, o.Name+".key"),
	}
	if err := os.WriteFile(leaf.CertFile, chain, 0o644); err != nil {
		return nil, fmt.Errorf("testpki: write certificate: %w", err)
	}
	if err := os.WriteFile(leaf.KeyFile, pemBlock("PRIVATE KEY", keyDER), 0o600); err != nil {
		return nil, fmt.Errorf("testpki: write key: %w", err)
	}
	return leaf, nil
}

// Set is a CA with the three server certificates TLS tests need.
type Set struct {
	*CA
	// Server covers the default names (localhost, 127.0.0.1, 127.0.0.2, ::1).
	Server *Leaf
	// WrongName covers only WrongName, so verification of any loopback
	// name fails with a hostname error.
	WrongName *Leaf
	// Expired covers the default names but expired an hour ago.
	Expired *Leaf
}

// New makes a CA in dir with Server, WrongName and Expired certificates
// (files server.*, wrongname.*, expired.*).
func New(dir string) (*Set, error) {
	ca, err := NewCA(dir)
	if err != nil {
		return nil, err
	}
	s := &Set{CA: ca}
	if s.Server, err = ca.Issue(LeafOptions{Name: "server"}); err != nil {
		return nil, err
	}
	if s.WrongName, err = ca.Issue(LeafOptions{Name: "wrongname", DNSNames: []string{WrongName}}); err != nil {
		return nil, err
	}
	now := time.Now()
	if s.Expired, err = ca.Issue(LeafOptions{Name: "expired", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)}); err != nil {
		return nil, err
	}
	return s, nil
}

// ClientConfig returns a TLS client configuration that trusts only the CA
// and verifies serverName.
func (ca *CA) ClientConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic("testpki: read random serial: " + err.Error())
	}
	return n.Add(n, big.NewInt(1))
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
