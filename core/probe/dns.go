package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mailmend/mailmend/core/cause"
)

// Resolver looks up host addresses and MX records; *net.Resolver is one.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

// DefaultDNSTimeout bounds the dns check.
const DefaultDNSTimeout = 5 * time.Second

// DNS resolves every host in hosts (IMAP and SMTP servers; duplicates and
// IP literals are fine) and reports the check "dns". A host that does not
// resolve fails the check with CodeDNS evidence naming it. When domain is
// not empty its MX records are looked up too, and their first host is put
// in Detail as a hint of who handles the domain's mail; an MX failure is
// only a warning. A nil r means net.DefaultResolver.
func DNS(ctx context.Context, r Resolver, hosts []string, domain string) Result {
	start := time.Now()
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultDNSTimeout)
	defer cancel()
	res := Result{Name: CheckDNS, Status: OK}
	seen := map[string]bool{}
	var parts []string
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if net.ParseIP(h) != nil {
			parts = append(parts, h)
			continue
		}
		addrs, err := r.LookupHost(ctx, h)
		if err != nil || len(addrs) == 0 {
			if err == nil {
				err = fmt.Errorf("no addresses")
			}
			res.Status = Fail
			code := CodeDNS
			if ctx.Err() != nil || isTimeout(err) {
				code = cause.CodeDNSTimeout
			}
			res.Evidence = append(res.Evidence, cause.Evidence{
				Kind: cause.KindTransport, Code: code, Check: CheckDNS,
				Text: evidenceText(fmt.Sprintf("lookup %s: %v", h, err)),
			})
			parts = append(parts, h+": "+dnsReason(err))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %d address%s", h, len(addrs), pluralES(len(addrs))))
	}
	if domain != "" && res.Status == OK {
		mx, err := r.LookupMX(ctx, domain)
		switch {
		case err == nil && len(mx) > 0:
			parts = append(parts, "MX "+strings.TrimSuffix(mx[0].Host, "."))
		case err != nil:
			var de *net.DNSError
			if !(errors.As(err, &de) && de.IsNotFound) {
				res.Status = Warn
			}
			parts = append(parts, "no MX for "+domain)
		}
	}
	res.Detail = detail(strings.Join(parts, "; "))
	res.Duration = time.Since(start)
	return res
}

func dnsReason(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		switch {
		case de.IsNotFound:
			return "no such host"
		case de.IsTimeout:
			return "DNS timed out"
		}
	}
	if isTimeout(err) {
		return "DNS timed out"
	}
	return "does not resolve"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

func pluralES(n int) string {
	if n == 1 {
		return ""
	}
	return "es"
}
