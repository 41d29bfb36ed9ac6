package probe

import (
	"context"
	"net"
	"strings"
	"testing"
)

type fakeResolver struct {
	hosts map[string][]string
	mx    map[string][]*net.MX
}

func (f fakeResolver) LookupHost(ctx context.Context, h string) ([]string, error) {
	if a, ok := f.hosts[h]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: h, IsNotFound: true}
}

func (f fakeResolver) LookupMX(ctx context.Context, n string) ([]*net.MX, error) {
	if m, ok := f.mx[n]; ok {
		return m, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: n, IsNotFound: true}
}

func TestDNS(t *testing.T) {
	r := fakeResolver{
		hosts: map[string][]string{"imap.example.com": {"192.0.2.1", "2001:db8::1"}, "smtp.example.com": {"192.0.2.2"}},
		mx:    map[string][]*net.MX{"example.com": {{Host: "aspmx.l.google.com.", Pref: 1}}},
	}
	res := DNS(context.Background(), r, []string{"imap.example.com", "smtp.example.com", "imap.example.com"}, "example.com")
	if res.Status != OK || !strings.Contains(res.Detail, "imap.example.com: 2 addresses") || !strings.Contains(res.Detail, "MX aspmx.l.google.com") {
		t.Fatalf("%s %q", res.Status, res.Detail)
	}
	res = DNS(context.Background(), r, []string{"imap.exmaple.com", "127.0.0.2"}, "")
	if res.Status != Fail || len(res.Evidence) != 1 || res.Evidence[0].Code != CodeDNS || !strings.Contains(res.Detail, "no such host") {
		t.Fatalf("%s %q %+v", res.Status, res.Detail, res.Evidence)
	}
}
