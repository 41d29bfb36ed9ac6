package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/sanitize"
	"github.com/mailmend/mailmend/core/store"
)

type addOptions struct {
	app           *app
	Email         string
	Provider      string
	Auth          string
	Username      string
	IMAP          string
	IMAPSecurity  string
	SMTP          string
	SMTPSecurity  string
	PasswordStdin bool
	NoVerify      bool
	NoBrowser     bool
}

func newAddCmd(a *app) *cobra.Command {
	o := &addOptions{app: a}
	cmd := &cobra.Command{
		Use:   "add --email ADDRESS",
		Short: "Add a mail account, verified with a live login",
		Long: `Add a mail account to the credential store.

The provider is detected from the address (and, for your own domain, from its
MX records); its known-good IMAP and SMTP settings are used unless you give
your own. The sign-in method is the provider's first (OAuth for Google and
Microsoft) unless --auth says otherwise.

With --auth password mailmend asks for the password (hidden), or reads it
from standard input with --password-stdin, and logs in to the IMAP server
before saving anything: a password the server refuses is not saved. App
passwords may be typed as the provider shows them (Google's groups of four
letters; spaces are dropped).

With --auth oauth2 mailmend opens the provider's sign-in in your browser
(PKCE, answered on a loopback address; --no-browser prints the address
instead), exchanges the code once, logs in over IMAP with the new token and
only then saves the account. Google and Microsoft need your own OAuth
client: when none is configured, mailmend explains how to make one and asks
for its id and secret.

Adding an address that is already there updates that account in place and
keeps its id.`,
		Example: `  mailmend add --email you@gmail.com
  mailmend add --email you@gmail.com --auth password
  pass show mail/work | mailmend add --email me@corp.example --imap mail.corp.example:993 --smtp mail.corp.example:465 --password-stdin
  mailmend add --email you@fastmail.com --username you@fastmail.com --no-verify`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAdd(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Email, "email", "", "the account's address (required)")
	f.StringVar(&o.Provider, "provider", "", "provider id (see 'mailmend providers'); default: detected")
	f.StringVar(&o.Auth, "auth", "", "password or oauth2; default: the provider's first")
	f.StringVar(&o.Username, "username", "", "login name when it is not the address")
	f.StringVar(&o.IMAP, "imap", "", "IMAP server HOST:PORT (default: the provider's)")
	f.StringVar(&o.IMAPSecurity, "imap-security", "", "tls or starttls (default: the provider's, or by port)")
	f.StringVar(&o.SMTP, "smtp", "", "SMTP server HOST:PORT (default: the provider's)")
	f.StringVar(&o.SMTPSecurity, "smtp-security", "", "tls or starttls (default: the provider's, or by port)")
	f.BoolVar(&o.PasswordStdin, "password-stdin", false, "read the password from standard input")
	f.BoolVar(&o.NoVerify, "no-verify", false, "save without a test login")
	f.BoolVar(&o.NoBrowser, "no-browser", false, "do not open a browser for consent; print the address instead")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

// securityFor picks the connection security from a flag, the provider, or
// the well-known port.
func securityFor(flag string, port int, fallback account.Security) (account.Security, error) {
	if flag != "" {
		s := account.Security(strings.ToLower(flag))
		if !s.Valid() {
			return "", fmt.Errorf("security %q: use tls or starttls (mailmend never sends mail or passwords in plaintext)", flag)
		}
		return s, nil
	}
	switch port {
	case 993, 465:
		return account.TLS, nil
	case 143, 587, 25:
		return account.StartTLS, nil
	}
	if fallback != "" {
		return fallback, nil
	}
	return account.TLS, nil
}

// endpoint resolves one server from a HOST:PORT flag, a security flag and the
// provider's default.
func endpoint(hostport, secFlag string, def account.Endpoint, which string) (account.Endpoint, error) {
	if hostport == "" {
		if def.IsZero() {
			return account.Endpoint{}, nil
		}
		if secFlag != "" {
			sec, err := securityFor(secFlag, def.Port, def.Security)
			if err != nil {
				return account.Endpoint{}, usageErrorf("--%s-security: %v", which, err)
			}
			def.Security = sec
		}
		return def, nil
	}
	ep, err := account.ParseHostPort(hostport, "")
	if err != nil {
		return account.Endpoint{}, usageErrorf("--%s: %v", which, err)
	}
	fallback := account.Security("")
	if def.Port == ep.Port {
		fallback = def.Security
	}
	ep.Security, err = securityFor(secFlag, ep.Port, fallback)
	if err != nil {
		return account.Endpoint{}, usageErrorf("--%s-security: %v", which, err)
	}
	return ep, nil
}

func runAdd(ctx context.Context, o *addOptions) error {
	a := o.app
	email := strings.TrimSpace(o.Email)
	if !account.ValidEmail(email) {
		return usageErrorf("--email %q is not a mail address", sanitize.Line(email))
	}

	p, how, err := a.pickProvider(ctx, o.Provider, email)
	if err != nil {
		return err
	}
	auth := account.AuthMethod(o.Auth)
	if auth == "" {
		auth = p.DefaultAuth()
	}
	if !auth.Valid() {
		return usageErrorf("--auth %q: use password or oauth2", o.Auth)
	}
	if !p.Supports(auth) {
		return usageErrorf("%s does not support --auth %s (it supports: %s)", p.Name, auth, joinAuth(p.Auth))
	}

	defIMAP, _ := p.IMAPEndpoint()
	defSMTP, _ := p.SMTPEndpoint()
	imapEP, err := endpoint(o.IMAP, o.IMAPSecurity, defIMAP, "imap")
	if err != nil {
		return err
	}
	smtpEP, err := endpoint(o.SMTP, o.SMTPSecurity, defSMTP, "smtp")
	if err != nil {
		return err
	}
	if imapEP.IsZero() {
		return usageErrorf("no IMAP server known for %s: give --imap HOST:PORT (and --smtp HOST:PORT)", account.Domain(email))
	}

	acct := account.Account{
		Email:    email,
		Username: strings.TrimSpace(o.Username),
		Provider: p.ID,
		Auth:     auth,
		IMAP:     imapEP,
		SMTP:     smtpEP,
		Status:   account.Unchecked,
	}
	fmt.Fprintf(a.env.Err, "Provider: %s (%s)\n", p.Name, how)

	if auth == account.OAuth2 {
		return runAddOAuth(ctx, o, p, acct)
	}

	// Open the store before asking for the secret: if it is unavailable the
	// user should not type a password for nothing.
	st, err := a.store()
	if err != nil {
		return storeErr(err)
	}
	if _, err := st.List(ctx); err != nil {
		return storeErr(err)
	}

	secret, err := a.readPassword(o.PasswordStdin, p, email)
	if err != nil {
		return err
	}
	if !o.NoVerify {
		fmt.Fprintf(a.env.Err, "Logging in to %s as %s ...\n", imapEP, acct.Login())
		if err := a.verifyPassword(ctx, acct, secret); err != nil {
			return err
		}
		acct.Status = account.Healthy
		acct.LastOK = a.env.Now().UTC()
		acct.CheckedAt = acct.LastOK
	}
	saved, err := st.Save(ctx, acct, &store.Secret{Password: secret})
	if err != nil {
		return storeErr(err)
	}
	verb := "Saved"
	if o.NoVerify {
		verb = "Saved (not verified)"
	}
	fmt.Fprintf(a.env.Err, "%s %s (id %s).\n", verb, saved.Email, saved.ID)
	return nil
}

// pickProvider resolves --provider or detects the provider from the address.
func (a *app) pickProvider(ctx context.Context, id, email string) (provider.Provider, string, error) {
	if id != "" {
		p, ok := a.catalog.Get(id)
		if !ok {
			return provider.Provider{}, "", usageErrorf("unknown provider %q (see 'mailmend providers')", id)
		}
		return p, "from --provider", nil
	}
	r := a.resolver
	if r == nil {
		r = net.DefaultResolver
	}
	p, how, err := a.catalog.Detect(ctx, email, r)
	if err != nil {
		fmt.Fprintf(a.env.Err, "Note: %s\n", sanitize.Line(err.Error()))
	}
	switch how {
	case provider.HowDomain:
		how = "known address domain"
	case provider.HowMX:
		how = "found from the domain's MX records"
	default:
		how = "no known provider; using the settings you give"
	}
	return p, how, nil
}

// readPassword gets the secret from stdin or a masked prompt and applies the
// provider's app-password format rule.
func (a *app) readPassword(fromStdin bool, p provider.Provider, email string) (string, error) {
	var raw string
	switch {
	case fromStdin:
		b, err := io.ReadAll(io.LimitReader(a.env.In, 64<<10))
		if err != nil {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		raw = strings.TrimRight(string(b), "\r\n")
	case a.env.StdinTTY:
		what := "Password"
		if p.AppPasswordURL != "" {
			what = "App password"
			fmt.Fprintf(a.env.Err, "Make an app password at %s\n", p.AppPasswordURL)
		}
		s, err := a.env.ReadSecret(fmt.Sprintf("%s for %s (hidden): ", what, email))
		if err != nil {
			return "", err
		}
		raw = s
	default:
		return "", usageErrorf("no terminal to ask for the password: pipe it in with --password-stdin")
	}
	if raw == "" {
		return "", usageErrorf("empty password")
	}
	pw, err := provider.NormalizeAppPassword(p, raw)
	if err != nil {
		return "", withCode(exitUsage, err)
	}
	return pw, nil
}

// joinAuth lists auth methods for messages.
func joinAuth(ms []account.AuthMethod) string { return strings.Join(authStrings(ms), ", ") }
