package sandbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"
	"golang.org/x/oauth2"

	"github.com/mailmend/mailmend/core/account"
)

// Options configures a Sandbox. A nil *Options is equivalent to a zero
// Options; zero fields take the defaults named on each field.
type Options struct {
	// ClockOffset is how far the Date header is shifted for accounts in the
	// ClockSkew scenario. Default 20 minutes (the server is ahead).
	ClockOffset time.Duration
	// AccessTokenTTL is the lifetime of access tokens. Default 1 hour.
	AccessTokenTTL time.Duration
	// CodeTTL is the lifetime of authorization codes. Default 10 minutes.
	CodeTTL time.Duration
	// DeviceCodeTTL is the lifetime of device codes. Default 15 minutes.
	DeviceCodeTTL time.Duration
	// DeviceInterval is the polling interval the device endpoint asks for;
	// faster polls get slow_down. Default 5 seconds; negative disables the
	// slow_down check.
	DeviceInterval time.Duration
	// TransientFor makes ProviderUnavailable and RateLimited pass by
	// themselves this long after they were set. Zero: they last until Fix.
	TransientFor time.Duration
	// AutoApprove approves every consent at /authorize without showing the
	// consent page, as if the user clicked Approve. A single request can ask
	// for the same with the query parameter sandbox_auto_approve=1.
	AutoApprove bool
	// Logf, when set, receives the servers' own error logs. Secrets are
	// never logged. Default: discarded.
	Logf func(format string, args ...any)
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.ClockOffset == 0 {
		out.ClockOffset = 20 * time.Minute
	}
	if out.AccessTokenTTL <= 0 {
		out.AccessTokenTTL = time.Hour
	}
	if out.CodeTTL <= 0 {
		out.CodeTTL = 10 * time.Minute
	}
	if out.DeviceCodeTTL <= 0 {
		out.DeviceCodeTTL = 15 * time.Minute
	}
	if out.DeviceInterval == 0 {
		out.DeviceInterval = 5 * time.Second
	}
	return out
}

// UserSpec describes a fake account for AddUser.
type UserSpec struct {
	// Email is the login name and address; required, unique (case-insensitive).
	Email string
	// Password is the account password. Empty: one is generated.
	Password string
	// AppPassword is the app password the provider would show the user.
	// Empty: one is generated in Google's 16-letter format.
	AppPassword string
	// Flavour is the provider imitated; required.
	Flavour Flavour
	// Scenario is the starting state. Empty: Healthy.
	Scenario Scenario
	// Messages is how many sample messages INBOX holds. Default 3;
	// negative: none.
	Messages int
}

// Sandbox is a running set of fake providers. All methods are safe for
// concurrent use.
type Sandbox struct {
	opts Options
	pki  *pki
	now  func() time.Time

	goodTLS  *tls.Config
	wrongTLS *tls.Config

	mu      sync.Mutex
	closed  bool
	users   map[string]*user
	clients map[string]*Client
	oauth   oauthState
	stats   Counters

	mem     *imapmemserver.Server
	imapSrv *imapserver.Server
	smtpSrv *smtp.Server
	httpSrv *http.Server

	imapConns *chanListener
	smtpConns *chanListener

	oauthAddr     string
	wrongNameIMAP account.Endpoint
	wrongNameSMTP account.Endpoint

	listeners []net.Listener
	specials  map[net.Conn]struct{}
	wg        sync.WaitGroup // accept loops, serve loops, special connections
	connWG    sync.WaitGroup // connections handed to the protocol servers
}

type user struct {
	spec        UserSpec
	email       string
	password    string // the password the server accepts now
	appPassword string
	scenario    Scenario
	scenarioAt  time.Time
	memUser     *imapmemserver.User
	ports       UserEndpoints
	logins      LoginCounts
}

// UserEndpoints are the servers of one account, all on 127.0.0.1.
type UserEndpoints struct {
	IMAP         account.Endpoint // implicit TLS
	IMAPStartTLS account.Endpoint // plaintext greeting, STARTTLS
	SMTP         account.Endpoint // implicit TLS (submissions)
	SMTPStartTLS account.Endpoint // plaintext greeting, STARTTLS (submission)
}

// LoginCounts counts login attempts per account and protocol. A login is an
// AUTHENTICATE, LOGIN or AUTH command that reached a verdict.
type LoginCounts struct {
	IMAPOK, IMAPFailed int
	SMTPOK, SMTPFailed int
}

// Start starts the OAuth, IMAP and SMTP servers on 127.0.0.1 with random
// ports and returns when they accept connections. ctx bounds start-up only;
// call Close to stop. opts may be nil.
func Start(ctx context.Context, opts *Options) (*Sandbox, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	o := opts.withDefaults()
	sb := &Sandbox{
		opts:    o,
		now:     time.Now,
		users:   map[string]*user{},
		clients: map[string]*Client{},
		mem:     imapmemserver.New(),
	}
	sb.oauth.init()
	p, err := newPKI(sb.now())
	if err != nil {
		return nil, err
	}
	sb.pki = p
	good, err := p.leaf(sb.now(), []string{"localhost", "sandbox.mailmend.test"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	wrong, err := p.leaf(sb.now(), []string{"mail.wrong-name.example"}, []net.IP{net.IPv4(127, 0, 0, 2)})
	if err != nil {
		return nil, err
	}
	sb.goodTLS = serverTLS(good)
	sb.wrongTLS = serverTLS(wrong)
	for _, c := range defaultClients() {
		c := c
		sb.clients[c.ID] = &c
	}

	sb.imapConns = newChanListener()
	sb.smtpConns = newChanListener()
	sb.imapSrv = sb.newIMAPServer()
	sb.smtpSrv = sb.newSMTPServer()

	ok := false
	defer func() {
		if !ok {
			sb.Close()
		}
	}()

	// OAuth over TLS.
	ln, err := sb.listen()
	if err != nil {
		return nil, err
	}
	sb.oauthAddr = ln.Addr().String()
	sb.httpSrv = &http.Server{
		Handler:           sb.oauthHandler(),
		TLSConfig:         sb.goodTLS,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logWriter{sb.opts.Logf}, "", 0),
	}
	tlsLn := tls.NewListener(ln, sb.goodTLS)
	sb.goServe(func() { _ = sb.httpSrv.Serve(tlsLn) })
	sb.goServe(func() { _ = sb.imapSrv.Serve(sb.imapConns) })
	sb.goServe(func() { _ = sb.smtpSrv.Serve(sb.smtpConns) })

	// The protocol servers register their Serve loops before the first
	// Accept; Close must not race with that registration.
	for _, l := range []*chanListener{sb.imapConns, sb.smtpConns} {
		select {
		case <-l.serving:
		case <-ctx.Done():
			return nil, fmt.Errorf("sandbox: start: %w", ctx.Err())
		}
	}

	// Shared endpoints whose certificate names another host.
	if sb.wrongNameIMAP, err = sb.openPort(protoIMAP, modeWrongName, nil); err != nil {
		return nil, err
	}
	if sb.wrongNameSMTP, err = sb.openPort(protoSMTP, modeWrongName, nil); err != nil {
		return nil, err
	}
	ok = true
	return sb, nil
}

func (sb *Sandbox) goServe(f func()) {
	sb.wg.Add(1)
	go func() {
		defer sb.wg.Done()
		f()
	}()
}

func (sb *Sandbox) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen: %w", err)
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.closed {
		ln.Close()
		return nil, errors.New("sandbox: closed")
	}
	sb.listeners = append(sb.listeners, ln)
	return ln, nil
}

// Close stops every server, closes every connection and waits for the
// sandbox's goroutines to end. It is safe to call more than once.
func (sb *Sandbox) Close() error {
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		return nil
	}
	sb.closed = true
	lns := sb.listeners
	sb.listeners = nil
	for c := range sb.specials {
		c.Close()
	}
	sb.mu.Unlock()

	for _, ln := range lns {
		ln.Close()
	}
	if sb.httpSrv != nil {
		sb.httpSrv.Close()
	}
	sb.imapConns.Close()
	sb.smtpConns.Close()
	if sb.imapSrv != nil {
		_ = sb.imapSrv.Close()
	}
	if sb.smtpSrv != nil {
		_ = sb.smtpSrv.Close()
	}
	sb.wg.Wait()
	// Connections accepted but never taken by a server, and those the
	// servers are still tearing down.
	sb.imapConns.drain()
	sb.smtpConns.drain()
	done := make(chan struct{})
	go func() { sb.connWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		return errors.New("sandbox: close: connections still open after 5s")
	}
	return nil
}

// CAPEM returns the PEM of the sandbox's certificate authority, for clients
// that read trust from a file (SSL_CERT_FILE, Dovecot's ssl_client_ca_file).
func (sb *Sandbox) CAPEM() []byte { return append([]byte(nil), sb.pki.caPEM...) }

// CAPool returns a pool holding only the sandbox's certificate authority.
func (sb *Sandbox) CAPool() *x509.CertPool { return sb.pki.pool.Clone() }

// ClientTLS returns a client TLS configuration that trusts the sandbox's
// authority; serverName may be empty to verify against the dialled host.
func (sb *Sandbox) ClientTLS(serverName string) *tls.Config {
	return &tls.Config{RootCAs: sb.CAPool(), ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// HTTPClient returns an HTTP client that trusts the sandbox's authority, does
// not follow redirects (so a test can read the redirect to the loopback
// URI) and times out after 10 seconds.
func (sb *Sandbox) HTTPClient() *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: sb.ClientTLS(""), ForceAttemptHTTP2: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// AddUser creates a fake account with its own IMAP and SMTP ports and an
// INBOX with sample messages. It fails for a duplicate or invalid spec.
func (sb *Sandbox) AddUser(spec UserSpec) error {
	email := strings.ToLower(strings.TrimSpace(spec.Email))
	if email == "" || !strings.Contains(email, "@") {
		return fmt.Errorf("sandbox: add user: invalid email %q", spec.Email)
	}
	if spec.Scenario == "" {
		spec.Scenario = Healthy
	}
	if err := checkScenario(spec.Flavour, spec.Scenario); err != nil {
		return err
	}
	if spec.Password == "" {
		spec.Password = "pw-" + randToken(16)
	}
	if spec.AppPassword == "" {
		spec.AppPassword = googleAppPassword()
	}
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		return errors.New("sandbox: closed")
	}
	if _, dup := sb.users[email]; dup {
		sb.mu.Unlock()
		return fmt.Errorf("sandbox: add user: %s exists", email)
	}
	u := &user{spec: spec, email: email, password: spec.Password, appPassword: spec.AppPassword}
	sb.setScenarioLocked(u, spec.Scenario)
	u.memUser = imapmemserver.NewUser(email, "")
	sb.users[email] = u
	sb.mu.Unlock()

	if err := seedMailbox(u.memUser, email, spec.Messages); err != nil {
		return err
	}
	var err error
	var eps UserEndpoints
	if eps.IMAP, err = sb.openPort(protoIMAP, modeTLS, u); err != nil {
		return err
	}
	if eps.IMAPStartTLS, err = sb.openPort(protoIMAP, modeStartTLS, u); err != nil {
		return err
	}
	if eps.SMTP, err = sb.openPort(protoSMTP, modeTLS, u); err != nil {
		return err
	}
	if eps.SMTPStartTLS, err = sb.openPort(protoSMTP, modeStartTLS, u); err != nil {
		return err
	}
	sb.mu.Lock()
	u.ports = eps
	sb.mu.Unlock()
	return nil
}

func (sb *Sandbox) setScenarioLocked(u *user, s Scenario) {
	if s == WrongPassword && u.scenario != WrongPassword {
		// The provider's password moved on; the client's is now stale.
		u.password = "pw-" + randToken(16)
	}
	if s.healsOnConsent() && s != InsufficientScope {
		// The event that kills a grant (password change, revocation,
		// expiry, policy) kills the existing ones for good: fixing the
		// account later does not bring them back, a new consent does.
		for _, f := range sb.oauth.families {
			if f.user == u.email {
				f.revoked = true
			}
		}
	}
	u.scenario = s
	u.scenarioAt = sb.now()
}

// userLocked finds an account and applies transient expiry. sb.mu is held.
func (sb *Sandbox) userLocked(email string) *user {
	u := sb.users[strings.ToLower(strings.TrimSpace(email))]
	if u != nil && u.scenario.transient() && sb.opts.TransientFor > 0 && sb.now().Sub(u.scenarioAt) >= sb.opts.TransientFor {
		u.scenario = Healthy
	}
	return u
}

func (sb *Sandbox) lookup(email string) (*user, error) {
	u := sb.userLocked(email)
	if u == nil {
		return nil, fmt.Errorf("sandbox: no account %s", email)
	}
	return u, nil
}

// SetScenario switches an account to another scenario at once; connections
// and requests from then on see it. WrongPassword makes the server's
// password differ from the one the client has (Password tells the new one).
func (sb *Sandbox) SetScenario(email string, s Scenario) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u, err := sb.lookup(email)
	if err != nil {
		return err
	}
	if err := checkScenario(u.spec.Flavour, s); err != nil {
		return err
	}
	sb.setScenarioLocked(u, s)
	return nil
}

// Scenario returns an account's current scenario.
func (sb *Sandbox) Scenario(email string) (Scenario, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u, err := sb.lookup(email)
	if err != nil {
		return "", err
	}
	return u.scenario, nil
}

// Fix repairs an account as the provider-side fix would: the scenario becomes
// Healthy. Grants killed by a scenario that needs a new consent
// (PasswordChanged, AccessRevoked, TokenExpired, OAuthAppInTesting,
// InteractionRequired, ConsentRequired) stay dead, as in reality; tokens
// refused for other reasons (ClockSkew, AccountBlocked, InvalidClient, ...)
// work again. The password stays what Password reports.
func (sb *Sandbox) Fix(email string) error { return sb.SetScenario(email, Healthy) }

// Password returns the account password the servers accept now. After
// SetScenario(WrongPassword) it differs from UserSpec.Password.
func (sb *Sandbox) Password(email string) (string, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u, err := sb.lookup(email)
	if err != nil {
		return "", err
	}
	return u.password, nil
}

// AppPassword returns the account's app password (16 lowercase letters
// unless UserSpec.AppPassword said otherwise), as the provider's app-password
// page would show it to the user.
func (sb *Sandbox) AppPassword(email string) (string, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u, err := sb.lookup(email)
	if err != nil {
		return "", err
	}
	return u.appPassword, nil
}

// Users returns the accounts' addresses, sorted.
func (sb *Sandbox) Users() []string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	out := make([]string, 0, len(sb.users))
	for e := range sb.users {
		out = append(out, e)
	}
	sortStrings(out)
	return out
}

// Endpoints returns the account's own IMAP and SMTP servers.
func (sb *Sandbox) Endpoints(email string) (UserEndpoints, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u, err := sb.lookup(email)
	if err != nil {
		return UserEndpoints{}, err
	}
	return u.ports, nil
}

// WrongNameEndpoints returns an IMAP and an SMTP server (implicit TLS) whose
// certificate is valid for mail.wrong-name.example and 127.0.0.2 but not for
// 127.0.0.1. Logins there work as on the account's own ports.
func (sb *Sandbox) WrongNameEndpoints() (imapEP, smtpEP account.Endpoint) {
	return sb.wrongNameIMAP, sb.wrongNameSMTP
}

// Settings is how a mail client should be configured for an account.
type Settings struct {
	Email    string           // the address
	Username string           // the login name (the address)
	Flavour  Flavour          // the provider imitated
	IMAP     account.Endpoint // where to read mail
	SMTP     account.Endpoint // where to submit mail
	OAuth    OAuthEndpoints   // the flavour's authorization server
	// ClientID and ClientSecret identify the sandbox's registered client for
	// the flavour; Scopes are the scopes that grant mail access.
	ClientID     string
	ClientSecret string
	Scopes       []string
}

// Settings returns the configuration to seed an account with. For an account
// in WrongSettings it is the broken one: IMAP points at the STARTTLS port but
// says TLS, SMTP at a server with the wrong certificate name.
func (sb *Sandbox) Settings(email string) (Settings, error) {
	s, err := sb.GoodSettings(email)
	if err != nil {
		return s, err
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u, err := sb.lookup(email)
	if err != nil {
		return s, err
	}
	if u.scenario == WrongSettings {
		s.IMAP = account.Endpoint{Host: u.ports.IMAPStartTLS.Host, Port: u.ports.IMAPStartTLS.Port, Security: account.TLS}
		s.SMTP = sb.wrongNameSMTP
	}
	return s, nil
}

// GoodSettings returns the known-good configuration of an account: its
// implicit-TLS ports and the flavour's OAuth endpoints and client.
func (sb *Sandbox) GoodSettings(email string) (Settings, error) {
	sb.mu.Lock()
	u, err := sb.lookup(email)
	if err != nil {
		sb.mu.Unlock()
		return Settings{}, err
	}
	f := u.spec.Flavour
	s := Settings{Email: u.email, Username: u.email, Flavour: f, IMAP: u.ports.IMAP, SMTP: u.ports.SMTP}
	sb.mu.Unlock()
	c := sb.Client(f)
	s.OAuth = sb.OAuth(f)
	s.ClientID, s.ClientSecret = c.ID, c.Secret
	s.Scopes = mailScopes(f)
	return s, nil
}

// Logins returns how many logins an account made per protocol.
func (sb *Sandbox) Logins(email string) (LoginCounts, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u, err := sb.lookup(email)
	if err != nil {
		return LoginCounts{}, err
	}
	return u.logins, nil
}

// IssueToken seeds a grant for the account as if it had consented: a new
// token family with the flavour's mail scopes (narrow scopes for an account
// in InsufficientScope). The returned token holds the refresh token.
func (sb *Sandbox) IssueToken(email string) (*oauth2.Token, error) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u, err := sb.lookup(email)
	if err != nil {
		return nil, err
	}
	scope := strings.Join(mailScopes(u.spec.Flavour), " ")
	if u.scenario == InsufficientScope {
		scope = narrowScope(u.spec.Flavour)
	}
	fam := sb.oauth.newFamily(u.email, builtinClientID(u.spec.Flavour), sb.now())
	return sb.issueLocked(u, fam, scope).oauth2(), nil
}

// Revoke revokes every grant of the account at the server, as the user
// removing the app's access would: the next refresh fails with
// invalid_grant and access tokens are refused.
func (sb *Sandbox) Revoke(email string) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u, err := sb.lookup(email)
	if err != nil {
		return err
	}
	for _, f := range sb.oauth.families {
		if f.user == u.email {
			f.revoked = true
		}
	}
	return nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

type logWriter struct{ logf func(string, ...any) }

func (w logWriter) Write(p []byte) (int, error) {
	if w.logf != nil {
		w.logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w logWriter) Printf(format string, args ...any) {
	if w.logf != nil {
		w.logf(format, args...)
	}
}

func (w logWriter) Println(args ...any) {
	if w.logf != nil {
		w.logf("%s", fmt.Sprintln(args...))
	}
}
