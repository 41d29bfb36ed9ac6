// Package dovecottest runs a real Dovecot (IMAP and submission) for tests.
//
// Start writes a configuration into a fresh temporary directory, starts
// `dovecot -F -c CONFIG` as a child process and returns once the server
// greets on every listener. The server listens on 127.0.0.2 by default:
// Dovecot treats a client connecting from its own address as secure, so a
// listener on 127.0.0.2 (reached from 127.0.0.1) behaves like a remote
// server and announces LOGINDISABLED before STARTTLS.
//
// Four listeners are opened on free ports: IMAP with implicit TLS (993
// style), IMAP with STARTTLS (143 style), submission with implicit TLS (465
// style) and submission with STARTTLS (587 style). Passwords live in a
// passwd-file passdb (salted SHA-256 hashes, never the clear text); an
// optional oauth2 passdb checks XOAUTH2/OAUTHBEARER tokens against an
// introspection endpoint the test runs.
//
// When the dovecot binary is missing, Start calls realparts.Missing: the
// test skips, or fails under MAILMEND_REQUIRE_REAL=1.
package dovecottest

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/internal/realparts"
	"github.com/mailmend/mailmend/core/internal/testpki"
)

// Binary is where Start looks for dovecot first; PATH is searched after it.
const Binary = "/usr/sbin/dovecot"

// DefaultListenIP is the address the listeners bind when Options.ListenIP
// is empty. See the package comment for why it is not 127.0.0.1.
const DefaultListenIP = "127.0.0.2"

// StartTimeout bounds how long Start waits for the server to greet.
const StartTimeout = 15 * time.Second

// Options configures a server. The zero value is a password-only server
// with no users and a fresh certificate authority.
type Options struct {
	// Users maps login names to passwords. More can be added later with
	// SetPassword.
	Users map[string]string

	// OAuth2IntrospectionURL turns on an oauth2 passdb for the XOAUTH2 and
	// OAUTHBEARER mechanisms when not empty. Dovecot sends each access token
	// to this URL (http or https; https is verified against OAuth2CAFile).
	// The endpoint answers with a JSON object; a token is accepted when the
	// object has OAuth2ActiveAttribute = "true" and OAuth2UsernameAttribute
	// equal to the login name.
	OAuth2IntrospectionURL string
	// OAuth2IntrospectionMode is how the token is sent: "post" (default;
	// form field token=...), "get" (the token is appended to the URL) or
	// "auth" (Authorization: Bearer header on a GET).
	OAuth2IntrospectionMode string
	// OAuth2UsernameAttribute names the JSON field that carries the login
	// name; empty means "username".
	OAuth2UsernameAttribute string
	// OAuth2ActiveAttribute names the JSON field that must be "true"
	// (boolean or string); empty means "active". Set it to "-" to accept
	// any answer with a matching username.
	OAuth2ActiveAttribute string
	// OAuth2CAFile is the CA bundle Dovecot trusts for an https
	// introspection URL; empty means the server's own CA (PKI.CertFile).
	OAuth2CAFile string

	// PKI is the certificate authority to use; nil means a new one in the
	// server's directory.
	PKI *testpki.Set
	// Cert is the certificate the listeners present; nil means PKI.Server.
	// Use PKI.WrongName or PKI.Expired to provoke verification errors.
	Cert *testpki.Leaf
	// ListenIP is the address to bind; empty means DefaultListenIP.
	ListenIP string
}

// Server is a running Dovecot. Its methods are safe for concurrent use.
type Server struct {
	// IMAPS, IMAP, Submissions and Submission are host:port addresses of the
	// implicit-TLS IMAP, STARTTLS IMAP, implicit-TLS submission and STARTTLS
	// submission listeners.
	IMAPS, IMAP, Submissions, Submission string
	// PKI is the certificate authority the server's certificate chains to.
	PKI *testpki.Set
	// Dir is the server's private directory (config, logs, mail).
	Dir string
	// StartDuration is how long Start took from exec to the first greeting
	// on every listener.
	StartDuration time.Duration

	cmd        *exec.Cmd
	waitDone   chan struct{}
	waitErr    error
	passwd     string
	logPath    string
	stderrPath string

	mu        sync.Mutex
	users     map[string]string // login -> passwd-file line
	lastMtime time.Time
	stopped   bool
	removeDir bool
}

// Start runs a server for the test and stops it in t.Cleanup. A missing
// dovecot binary reports through realparts.Missing; any other failure to
// start fails the test with the server's log.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := findBinary()
	if err != nil {
		realparts.Missing(t, "dovecot: %v (install dovecot-imapd and dovecot-submissiond)", err)
	}
	s, err := launch(bin, opts)
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Logf("dovecottest: %v", err)
		}
	})
	return s
}

// Launch runs a server outside a test's lifetime, for TestMain or a
// package-wide shared server. The caller must call Close. It returns
// ErrNotInstalled (wrapped) when dovecot is missing.
func Launch(opts Options) (*Server, error) {
	bin, err := findBinary()
	if err != nil {
		return nil, err
	}
	return launch(bin, opts)
}

// ErrNotInstalled is returned by Launch when no dovecot binary is found.
var ErrNotInstalled = errors.New("dovecottest: dovecot binary not found")

// Shared starts one server per test binary on first use and hands the same
// server to every test that asks. The zero value is ready; set Options
// before the first Get. Close it at the end of TestMain.
type Shared struct {
	Options Options

	once sync.Once
	srv  *Server
	err  error
}

// Get returns the shared server, starting it on the first call. When
// dovecot is missing it reports through realparts.Missing; when it failed to
// start it fails the test.
func (sh *Shared) Get(t testing.TB) *Server {
	t.Helper()
	sh.once.Do(func() { sh.srv, sh.err = Launch(sh.Options) })
	if errors.Is(sh.err, ErrNotInstalled) {
		realparts.Missing(t, "%v (install dovecot-imapd and dovecot-submissiond)", sh.err)
	}
	if sh.err != nil {
		t.Fatalf("dovecottest: shared server: %v", sh.err)
	}
	return sh.srv
}

// Close stops the shared server if it was started.
func (sh *Shared) Close() error {
	if sh.srv == nil {
		return nil
	}
	return sh.srv.Close()
}

func findBinary() (string, error) {
	if fi, err := os.Stat(Binary); err == nil && !fi.IsDir() {
		return Binary, nil
	}
	p, err := exec.LookPath("dovecot")
	if err != nil {
		return "", fmt.Errorf("%w (looked at %s and in PATH)", ErrNotInstalled, Binary)
	}
	return p, nil
}

// identity is who Dovecot's processes and mailboxes run as.
type identity struct {
	internalUser, loginUser string
	internalGroup           string // empty: Dovecot's default ("dovecot")
	mailUID, mailGID        int
}

func currentIdentity() (identity, error) {
	if os.Geteuid() == 0 {
		// As root Dovecot drops privileges to unprivileged users; the
		// Debian package creates dovecot and dovenull.
		internal, err := user.Lookup("dovecot")
		if err != nil {
			return identity{}, fmt.Errorf("user dovecot: %w", err)
		}
		if _, err := user.Lookup("dovenull"); err != nil {
			return identity{}, fmt.Errorf("user dovenull: %w", err)
		}
		uid, _ := strconv.Atoi(internal.Uid)
		gid, _ := strconv.Atoi(internal.Gid)
		return identity{internalUser: "dovecot", loginUser: "dovenull", mailUID: uid, mailGID: gid}, nil
	}
	// Without root everything runs as the current user.
	u, err := user.Current()
	if err != nil {
		return identity{}, fmt.Errorf("current user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return identity{}, fmt.Errorf("group of the current user: %w", err)
	}
	return identity{internalUser: u.Username, loginUser: u.Username, internalGroup: g.Name, mailUID: uid, mailGID: gid}, nil
}

func launch(bin string, opts Options) (*Server, error) {
	var lastErr error
	// Free ports are picked before Dovecot binds them; another process may
	// take one in between, so a bind failure is retried with new ports.
	for attempt := 0; attempt < 3; attempt++ {
		s, err := launchOnce(bin, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "in use") {
			break
		}
	}
	return nil, lastErr
}

func launchOnce(bin string, opts Options) (s *Server, err error) {
	id, err := currentIdentity()
	if err != nil {
		return nil, err
	}
	ip := opts.ListenIP
	if ip == "" {
		ip = DefaultListenIP
	}
	// A short path: Dovecot's unix sockets live under base_dir and a socket
	// path must fit in 108 bytes, which t.TempDir() names can exceed.
	dir, err := os.MkdirTemp("", "mmdovecot-")
	if err != nil {
		return nil, err
	}
	s = &Server{Dir: dir, removeDir: true, users: map[string]string{}, waitDone: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	// Dovecot's unprivileged processes must reach the passwd-file and the
	// mail directories.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	pki := opts.PKI
	if pki == nil {
		pkiDir := filepath.Join(dir, "pki")
		if err := os.Mkdir(pkiDir, 0o755); err != nil {
			return nil, err
		}
		if pki, err = testpki.New(pkiDir); err != nil {
			return nil, err
		}
	}
	s.PKI = pki
	cert := opts.Cert
	if cert == nil {
		cert = pki.Server
	}
	for _, sub := range []string{"run", "state", "mail"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chown(filepath.Join(dir, "mail"), id.mailUID, id.mailGID); err != nil && os.Geteuid() == 0 {
		return nil, err
	}

	ports, err := freePorts(ip, 4)
	if err != nil {
		return nil, err
	}
	s.IMAPS = net.JoinHostPort(ip, strconv.Itoa(ports[0]))
	s.IMAP = net.JoinHostPort(ip, strconv.Itoa(ports[1]))
	s.Submissions = net.JoinHostPort(ip, strconv.Itoa(ports[2]))
	s.Submission = net.JoinHostPort(ip, strconv.Itoa(ports[3]))

	s.passwd = filepath.Join(dir, "passwd")
	s.logPath = filepath.Join(dir, "dovecot.log")
	s.stderrPath = filepath.Join(dir, "stderr.log")
	for u, p := range opts.Users {
		if err := checkLogin(u); err != nil {
			return nil, err
		}
		s.users[u] = passwdLine(u, p)
	}
	if err := s.writePasswd(); err != nil {
		return nil, err
	}

	conf := config{
		Dir: dir, IP: ip, Ports: ports, ID: id, Passwd: s.passwd, Log: s.logPath,
		CertFile: cert.CertFile, KeyFile: cert.KeyFile,
	}
	if opts.OAuth2IntrospectionURL != "" {
		// The auth process runs unprivileged and may not reach the caller's
		// CA file (t.TempDir() is 0700): give it a copy of its own.
		caSrc := opts.OAuth2CAFile
		if caSrc == "" {
			caSrc = pki.CertFile
		}
		ca, err := os.ReadFile(caSrc)
		if err != nil {
			return nil, fmt.Errorf("read OAuth2 CA file: %w", err)
		}
		caFile := filepath.Join(dir, "oauth2-ca.pem")
		if err := os.WriteFile(caFile, ca, 0o644); err != nil {
			return nil, err
		}
		oauthConf := filepath.Join(dir, "oauth2.conf.ext")
		if err := os.WriteFile(oauthConf, []byte(oauth2Config(opts, caFile)), 0o644); err != nil {
			return nil, err
		}
		conf.OAuth2Conf = oauthConf
	}
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf.render()), 0o644); err != nil {
		return nil, err
	}

	start := time.Now()
	cmd := exec.Command(bin, "-F", "-c", confPath)
	cmd.Dir = dir
	// A file, not a pipe: Wait would otherwise also wait for every child
	// process that inherited the pipe to close it.
	errFile, err := os.OpenFile(s.stderrPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer errFile.Close()
	cmd.Stdout = errFile
	cmd.Stderr = errFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmd = cmd
	go func() {
		s.waitErr = cmd.Wait()
		close(s.waitDone)
	}()
	if err := s.waitReady(start.Add(StartTimeout)); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, s.LogTail(30))
	}
	s.StartDuration = time.Since(start)
	return s, nil
}

// waitReady waits for a greeting on the two plaintext listeners (a greeting
// is sent only once the auth process is up) and a TCP accept on the two
// TLS listeners.
func (s *Server) waitReady(deadline time.Time) error {
	checks := []struct {
		addr, want string
	}{{s.IMAP, "* OK"}, {s.Submission, "220 "}, {s.IMAPS, ""}, {s.Submissions, ""}}
	for _, c := range checks {
		for {
			select {
			case <-s.waitDone:
				if strings.Contains(s.LogTail(10), "in use") {
					return fmt.Errorf("dovecot exited: address in use: %v", s.waitErr)
				}
				return fmt.Errorf("dovecot exited during start: %v", s.waitErr)
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("dovecot did not greet on %s within %v", c.addr, StartTimeout)
			}
			// A service that cannot start is retried with growing delays;
			// do not wait for that.
			if strings.Contains(s.LogTail(20), "Fatal:") {
				return errors.New("a dovecot service failed to start")
			}
			if greets(c.addr, c.want) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

func greets(addr, want string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	if want == "" {
		return true
	}
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, want)
}

func freePorts(ip string, n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", ip, err)
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// SetPassword adds user or replaces its password. Dovecot notices a changed
// passwd-file by its mtime (in whole seconds) and size, so the new file is
// given an mtime at least one second later than the last one written.
func (s *Server) SetPassword(user, password string) error {
	if err := checkLogin(user); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[user] = passwdLine(user, password)
	return s.writePasswd()
}

// RemoveUser deletes user from the passwd-file; later logins fail.
func (s *Server) RemoveUser(user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, user)
	return s.writePasswd()
}

// writePasswd replaces the passwd-file atomically. Callers hold s.mu or
// own s exclusively.
func (s *Server) writePasswd() error {
	names := make([]string, 0, len(s.users))
	for u := range s.users {
		names = append(names, u)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, u := range names {
		b.WriteString(s.users[u])
		b.WriteByte('\n')
	}
	tmp := s.passwd + ".new"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("dovecottest: write passwd-file: %w", err)
	}
	mtime := time.Now().Truncate(time.Second)
	if !s.lastMtime.IsZero() && !mtime.After(s.lastMtime) {
		mtime = s.lastMtime.Add(time.Second)
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		return fmt.Errorf("dovecottest: set passwd-file mtime: %w", err)
	}
	if err := os.Rename(tmp, s.passwd); err != nil {
		return fmt.Errorf("dovecottest: replace passwd-file: %w", err)
	}
	s.lastMtime = mtime
	if s.cmd != nil {
		// Dovecot stats the file at most once per second of its clock (it
		// skips the check when the last one was in the same second), so a
		// lookup in the second of this write could still use the old file.
		// Return only once the next second has begun.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
	}
	return nil
}

func checkLogin(user string) error {
	if user == "" || strings.ContainsAny(user, ":\r\n\x00 ") {
		return fmt.Errorf("dovecottest: login %q is not usable in a passwd-file", user)
	}
	return nil
}

// passwdLine hashes password as {SSHA256} so the clear text never lands on
// disk.
func passwdLine(user, password string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	sum := sha256.Sum256(append([]byte(password), salt...))
	return user + ":{SSHA256}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...)) + "::::::"
}

// CAPool returns the pool holding the CA the server's certificate chains to.
func (s *Server) CAPool() *x509.CertPool { return s.PKI.Pool }

// CAFile returns the CA certificate's PEM file, for SSL_CERT_FILE.
func (s *Server) CAFile() string { return s.PKI.CertFile }

// LogPath returns the Dovecot log file's path.
func (s *Server) LogPath() string { return s.logPath }

// LogTail returns up to the last n lines of Dovecot's log and its stderr,
// for test failure messages.
func (s *Server) LogTail(n int) string {
	data, _ := os.ReadFile(s.logPath)
	if errOut, _ := os.ReadFile(s.stderrPath); len(errOut) > 0 {
		data = append(append(data, '\n'), errOut...)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop shuts the server down and waits for it to exit; connections to its
// addresses are refused afterwards. It sends SIGTERM and, when Dovecot has
// not exited within StopGrace (it can hang in shutdown when stopped within
// a few hundred milliseconds of starting), SIGKILL to its process group.
// Stop is idempotent.
func (s *Server) Stop() error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = terminate(s.cmd.Process)
	select {
	case <-s.waitDone:
	case <-time.After(StopGrace):
	}
	// Kill what is left of the group even after the master exited: a login
	// process that outlived it would keep a listener open.
	_ = killGroup(s.cmd.Process)
	select {
	case <-s.waitDone:
	case <-time.After(5 * time.Second):
		return errors.New("dovecottest: dovecot did not exit")
	}
	// SIGKILL is asynchronous: wait until the listeners are really gone.
	deadline := time.Now().Add(5 * time.Second)
	for _, addr := range []string{s.IMAPS, s.IMAP, s.Submissions, s.Submission} {
		for {
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				return fmt.Errorf("dovecottest: %s still accepts after stop", addr)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// StopGrace is how long Stop waits after SIGTERM before it kills.
const StopGrace = 500 * time.Millisecond

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	err := s.Stop()
	if s.removeDir {
		if rerr := os.RemoveAll(s.Dir); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}
