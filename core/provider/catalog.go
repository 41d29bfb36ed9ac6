package provider

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/mailmend/mailmend/assets"
	"github.com/mailmend/mailmend/core/account"
)

// Catalog is an ordered, validated set of providers with unique ids. The
// zero value is not usable; get one from Builtin or New. A Catalog is not
// safe for concurrent mutation (Merge); reads may run concurrently.
type Catalog struct {
	list []Provider
	// added holds the ids that Merge appended (not overrides of existing
	// entries); Detect tries these first so user entries win.
	added map[string]bool
}

// Builtin parses the catalog embedded from assets/providers.toml. Every call
// returns a fresh Catalog; an error means the shipped file is broken.
func Builtin() (*Catalog, error) {
	ps, err := Parse(assets.ProvidersTOML, "assets/providers.toml")
	if err != nil {
		return nil, err
	}
	return New(ps...)
}

// New builds a catalog from complete providers in the given order. Each must
// pass Validate and ids must be unique.
func New(ps ...Provider) (*Catalog, error) {
	c := &Catalog{added: map[string]bool{}}
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, err
		}
		if c.index(p.ID) >= 0 {
			return nil, &FieldError{ID: p.ID, Field: "id", Problem: "used by more than one provider"}
		}
		c.list = append(c.list, p.Clone())
	}
	return c, nil
}

func (c *Catalog) index(id string) int {
	return slices.IndexFunc(c.list, func(p Provider) bool { return p.ID == id })
}

// Get returns a copy of the provider with the given id.
func (c *Catalog) Get(id string) (Provider, bool) {
	if i := c.index(id); i >= 0 {
		return c.list[i].Clone(), true
	}
	return Provider{}, false
}

// All returns copies of every provider in catalog order (built-in order,
// then providers Merge added, in the order given).
func (c *Catalog) All() []Provider {
	out := make([]Provider, len(c.list))
	for i, p := range c.list {
		out[i] = p.Clone()
	}
	return out
}

// Generic returns the catalog's generic provider, or a minimal one (password
// auth, no hosts) when the catalog has none.
func (c *Catalog) Generic() Provider {
	if p, ok := c.Get(GenericID); ok {
		return p
	}
	return Provider{ID: GenericID, Name: "Other IMAP/SMTP server", Auth: []account.AuthMethod{account.Password}}
}

// Merge applies custom providers in order. A custom entry whose id is already
// in the catalog overrides it field by field: every non-empty field (string
// set, list non-empty, and inside [provider.oauth2] the same) replaces the
// existing value; empty fields keep it, so a field cannot be cleared. Other
// entries are appended. Every resulting provider must pass Validate; on error
// the catalog is left unchanged and the error is a *FieldError naming the
// provider and field.
func (c *Catalog) Merge(custom []Provider) error {
	list := make([]Provider, len(c.list))
	copy(list, c.list)
	added := map[string]bool{}
	for id := range c.added {
		added[id] = true
	}
	for _, cp := range custom {
		if cp.ID == "" {
			return &FieldError{Field: "id", Problem: "missing"}
		}
		i := slices.IndexFunc(list, func(p Provider) bool { return p.ID == cp.ID })
		if i < 0 {
			list = append(list, cp.Clone())
			added[cp.ID] = true
			continue
		}
		list[i] = overlay(list[i], cp)
	}
	for _, p := range list {
		if err := p.Validate(); err != nil {
			return err
		}
	}
	c.list, c.added = list, added
	return nil
}

// overlay returns base with every non-empty field of top applied.
func overlay(base, top Provider) Provider {
	base = base.Clone()
	top = top.Clone()
	setS := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	setS(&base.Name, top.Name)
	if len(top.Domains) > 0 {
		base.Domains = top.Domains
	}
	if len(top.MX) > 0 {
		base.MX = top.MX
	}
	setS(&base.IMAP, top.IMAP)
	if top.IMAPSecurity != "" {
		base.IMAPSecurity = top.IMAPSecurity
	}
	setS(&base.SMTP, top.SMTP)
	if top.SMTPSecurity != "" {
		base.SMTPSecurity = top.SMTPSecurity
	}
	if len(top.Auth) > 0 {
		base.Auth = top.Auth
	}
	setS(&base.AppPasswordURL, top.AppPasswordURL)
	setS(&base.AppPasswordFormat, top.AppPasswordFormat)
	setS(&base.AppPasswordPrereq, top.AppPasswordPrereq)
	setS(&base.HelpURL, top.HelpURL)
	setS(&base.SecurityURL, top.SecurityURL)
	if t := top.OAuth2; t != nil {
		if base.OAuth2 == nil {
			base.OAuth2 = t
		} else {
			o := base.OAuth2
			setS(&o.AuthURL, t.AuthURL)
			setS(&o.TokenURL, t.TokenURL)
			setS(&o.DeviceAuthURL, t.DeviceAuthURL)
			setS(&o.RevokeURL, t.RevokeURL)
			if len(t.Scopes) > 0 {
				o.Scopes = t.Scopes
			}
			setS(&o.ClientID, t.ClientID)
			setS(&o.ClientSecret, t.ClientSecret)
			setS(&o.ClientSetupURL, t.ClientSetupURL)
			setS(&o.RedirectHost, t.RedirectHost)
			o.InTesting = o.InTesting || t.InTesting
		}
	}
	return base
}

// ValidatePartial checks only the fields p sets, as an override in the config
// file may set just a few (say, oauth2.client_id for "google"). The id must
// be present and valid. Completeness is checked later by Merge or New.
func (p Provider) ValidatePartial() error {
	q := p.Clone()
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&q.Name, "x")
	if q.ID != GenericID {
		fill(&q.IMAP, "placeholder.invalid:993")
		fill(&q.SMTP, "placeholder.invalid:465")
	}
	if q.IMAP != "" && q.IMAPSecurity == "" {
		q.IMAPSecurity = account.TLS
	}
	if q.SMTP != "" && q.SMTPSecurity == "" {
		q.SMTPSecurity = account.TLS
	}
	if len(q.Auth) == 0 {
		q.Auth = []account.AuthMethod{account.Password}
	}
	if q.Supports(account.OAuth2) && q.OAuth2 == nil {
		q.OAuth2 = &OAuth2{}
	}
	if o := q.OAuth2; o != nil {
		fill(&o.AuthURL, "https://placeholder.invalid/auth")
		fill(&o.TokenURL, "https://placeholder.invalid/token")
		if len(o.Scopes) == 0 {
			o.Scopes = []string{"placeholder"}
		}
	}
	return q.Validate()
}

// fileDoc is the shape of a catalog file: only [[provider]] tables.
type fileDoc struct {
	Providers []Provider `toml:"provider"`
}

// Parse decodes a catalog file (only [[provider]] tables) strictly: unknown
// keys, malformed TOML and values of the wrong type are errors that name
// source and line ("provider: FILE:LINE:COL: ..."). Each entry must have a
// unique, valid id, and every field it sets must be valid
// (Provider.ValidatePartial); an entry's error names the line of its
// [[provider]] header. Completeness (hosts, oauth endpoints) is checked by
// New and Merge, since a config entry may override only a few fields.
func Parse(data []byte, source string) ([]Provider, error) {
	var doc fileDoc
	if err := DecodeStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("provider: %s", ErrorAt(source, err))
	}
	lines := TableLines(data, "provider")
	lineOf := func(i int) string {
		if i < len(lines) {
			return fmt.Sprintf("%s:%d", source, lines[i])
		}
		return source
	}
	seen := map[string]int{}
	for i, p := range doc.Providers {
		if err := p.ValidatePartial(); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				fe.Where = lineOf(i)
			}
			return nil, err
		}
		if j, dup := seen[p.ID]; dup {
			return nil, &FieldError{Where: lineOf(i), ID: p.ID, Field: "id",
				Problem: fmt.Sprintf("already used by the provider at %s", lineOf(j))}
		}
		seen[p.ID] = i
	}
	return doc.Providers, nil
}

// DecodeStrict decodes TOML into v, rejecting keys v has no field for. Its
// errors are go-toml's (*toml.DecodeError, *toml.StrictMissingError) or
// plain errors for type mismatches; format them with ErrorAt.
func DecodeStrict(data []byte, v any) error {
	d := toml.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// ErrorAt formats a DecodeStrict error as "SOURCE:LINE:COL: problem" when
// the error carries a position, and "SOURCE: problem" otherwise. Unknown keys
// are reported as "unknown key a.b.c" (the first one, with a count of the
// rest).
func ErrorAt(source string, err error) string {
	var sm *toml.StrictMissingError
	if errors.As(err, &sm) && len(sm.Errors) > 0 {
		e := sm.Errors[0]
		row, col := e.Position()
		msg := fmt.Sprintf("%s:%d:%d: unknown key %s", source, row, col, strings.Join(e.Key(), "."))
		if n := len(sm.Errors) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more unknown keys)", n)
		}
		return msg
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if m := typeMismatch.FindStringSubmatch(msg); m != nil && len(de.Key()) > 0 {
			msg = fmt.Sprintf("%s: expected %s, found a TOML %s", strings.Join(de.Key(), "."), expectedKind(m[2]), m[1])
		}
		return fmt.Sprintf("%s:%d:%d: %s", source, row, col, msg)
	}
	return fmt.Sprintf("%s: %s", source, strings.TrimPrefix(err.Error(), "toml: "))
}

// typeMismatch matches go-toml's wording for a value of the wrong type, which
// names Go types; ErrorAt rewrites it in TOML terms.
var typeMismatch = regexp.MustCompile(`^cannot decode TOML (\w+) into .* of type (\S+)$`)

// expectedKind names the TOML kind a Go type takes.
func expectedKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "*"), strings.HasPrefix(goType, "struct"), strings.HasPrefix(goType, "map"):
		return "a table"
	default:
		return "a string"
	}
}

// TableLines returns the 1-based line numbers of every [[name]] array-table
// header in data, in order. It reads lines textually, so a header-like line
// inside a multi-line string would be counted too.
func TableLines(data []byte, name string) []int {
	re := regexp.MustCompile(`^\s*\[\[\s*` + regexp.QuoteMeta(name) + `\s*\]\]\s*(#.*)?$`)
	var out []int
	for i, line := range strings.Split(string(data), "\n") {
		if re.MatchString(strings.TrimRight(line, "\r")) {
			out = append(out, i+1)
		}
	}
	return out
}
