package provider

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mailmend/mailmend/core/account"
)

// Resolver looks up MX records. *net.Resolver (net.DefaultResolver)
// satisfies it; tests pass a fake.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

var _ Resolver = (*net.Resolver)(nil)

// How Detect found the provider.
const (
	// HowDomain: the address's domain is in the provider's domain list.
	HowDomain = "domain"
	// HowMX: an MX host of the domain matches the provider's mx suffixes.
	HowMX = "mx"
	// HowNone: nothing matched; the provider is the generic one.
	HowNone = "none"
)

// MXTimeout bounds the MX lookup of one Detect call, on top of ctx.
const MXTimeout = 5 * time.Second

// Detect finds the provider for an email address.
//
// First the domain (after the last '@') is compared case-insensitively with
// every provider's domains; only exact matches count, so a subdomain such as
// "mail.gmail.com" is left to the MX step. Providers that Merge added are
// tried before the built-in ones, so a user's entry wins.
//
// Otherwise, when r is not nil, the domain's MX records are looked up (within
// ctx and at most MXTimeout) and each MX host, most preferred first, is
// matched against the providers' mx suffixes: that finds Google Workspace,
// Microsoft 365, Fastmail and the others on custom domains. A nil r skips this
// step, so Detect does no network I/O.
//
// When nothing matches, Detect returns the generic provider and HowNone. A
// failed lookup also falls back to generic and HowNone, and its error is
// returned alongside so the caller can show it; records returned together
// with an error are still used. A malformed address returns generic, HowNone
// and an error.
func (c *Catalog) Detect(ctx context.Context, email string, r Resolver) (Provider, string, error) {
	email = strings.TrimSpace(email)
	if !account.ValidEmail(email) {
		return c.Generic(), HowNone, fmt.Errorf("provider: %q is not an email address", email)
	}
	domain := normHost(account.Domain(email))
	order := c.detectOrder()
	for _, p := range order {
		if p.HasDomain(domain) {
			return p.Clone(), HowDomain, nil
		}
	}
	if r == nil {
		return c.Generic(), HowNone, nil
	}
	ctx, cancel := context.WithTimeout(ctx, MXTimeout)
	defer cancel()
	mxs, err := r.LookupMX(ctx, domain)
	for _, mx := range mxs {
		if mx == nil {
			continue
		}
		for _, p := range order {
			if p.ID != GenericID && p.MatchesMX(mx.Host) {
				return p.Clone(), HowMX, nil
			}
		}
	}
	if err != nil {
		return c.Generic(), HowNone, fmt.Errorf("provider: MX lookup for %s: %w", domain, err)
	}
	return c.Generic(), HowNone, nil
}

// detectOrder lists providers Merge added first, then the rest in catalog order.
func (c *Catalog) detectOrder() []Provider {
	out := make([]Provider, 0, len(c.list))
	for _, p := range c.list {
		if c.added[p.ID] {
			out = append(out, p)
		}
	}
	for _, p := range c.list {
		if !c.added[p.ID] {
			out = append(out, p)
		}
	}
	return out
}
