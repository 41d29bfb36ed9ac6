package e2e

// Tests of the TUI in a real terminal: the binary runs in a private tmux
// server (core/internal/tmuxtest), keys are typed with send-keys and the
// screen is read with capture-pane, as a person at the terminal would.

import (
	"crypto/tls"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mailmend/mailmend/core/demo"
	"github.com/mailmend/mailmend/core/internal/keyringtest"
	"github.com/mailmend/mailmend/core/internal/tmuxtest"
	"github.com/mailmend/mailmend/core/sandbox"
)

// envScreenshotDir names a folder where TestTUIDemo (list.ansi, wizard.ansi) and
// TestTUIResize (list-wide.ansi) save screens they saw, with their colours
// (capture-pane -e), for the README's pictures.
const envScreenshotDir = "MAILMEND_SCREENSHOT_DIR"

// Generous bounds: the screen usually changes within milliseconds, but CI
// machines are small and shared.
const (
	screenWait = 20 * time.Second
	repairWait = 30 * time.Second
)

// noBus is a D-Bus address where nothing listens: a program that tried the
// user's keyring through it would fail.
func noBus(t *testing.T) string {
	return "DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(t.TempDir(), "no-bus")
}

// screen returns the terminal's screen as plain text.
func screen(t *testing.T, term *tmuxtest.Term) string {
	t.Helper()
	s, err := term.Capture()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitFor waits for substr on the screen and returns that screen.
func waitFor(t *testing.T, term *tmuxtest.Term, substr string) string {
	t.Helper()
	s, err := term.WaitFor(substr, screenWait)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keys(t *testing.T, term *tmuxtest.Term, k ...string) {
	t.Helper()
	if err := term.SendKeys(k...); err != nil {
		t.Fatal(err)
	}
}

func typeText(t *testing.T, term *tmuxtest.Term, s string) {
	t.Helper()
	if err := term.Type(s); err != nil {
		t.Fatal(err)
	}
}

// row returns the list row of the account whose address starts with
// local+"@" ("" when there is none). Rows start with the cursor mark or two
// blanks; the address may be cut with an ellipsis.
func row(screen, local string) string {
	for _, l := range strings.Split(screen, "\n") {
		if (strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "› ")) && strings.HasPrefix(strings.TrimLeft(l[strings.Index(l, " "):], " "), local+"@") {
			return l
		}
	}
	return ""
}

// countRows counts the account rows on the list's screen.
func countRows(screen string) int {
	n := 0
	for _, l := range strings.Split(screen, "\n") {
		if (strings.HasPrefix(l, "  ") || strings.HasPrefix(l, "› ")) && strings.Contains(l, "@") {
			n++
		}
	}
	return n
}

// verdict is what the list's HEALTH column says of an account.
func verdict(r string) string {
	switch {
	case r == "":
		return "missing"
	case strings.Contains(r, "unchecked"):
		return "unchecked"
	case strings.Contains(r, "checking"):
		return "checking"
	case strings.Contains(r, "✓ healthy"):
		return "healthy"
	case strings.Contains(r, "✗ "):
		return "broken"
	case strings.Contains(r, "! "):
		return "error"
	}
	return "unknown"
}

// allDiagnosed reports whether every seed has a verdict and nothing is
// being checked.
func allDiagnosed(seeds []demo.Seed) func(string) bool {
	return func(s string) bool {
		if strings.Contains(s, "checking") {
			return false
		}
		for _, sd := range seeds {
			switch verdict(row(s, sd.Local)) {
			case "healthy", "broken", "error":
			default:
				return false
			}
		}
		return true
	}
}

// titlePrefix is the start of a cause's title as a narrow HEALTH column
// still shows it.
func titlePrefix(title string) string {
	r := []rune(title)
	return string(r[:min(len(r), 12)])
}

// isList reports whether the account list is in front.
func isList(s string) bool {
	return strings.Contains(s, "ADDRESS") && strings.Contains(s, "HEALTH")
}

// userBrowser plays the browser of the person at the terminal. The
// program under test opens URLs with xdg-open (github.com/cli/browser) or
// $BROWSER: both are a script that only writes the URL down; the test then
// loads the pages the way the person would, clicking "Approve" on a
// consent page. With refuse set the script fails, as on a machine with no
// browser.
type userBrowser struct {
	dir    string
	log    string
	client *http.Client
	mu     sync.Mutex
	done   int // log lines already handled
}

func newUserBrowser(t *testing.T) *userBrowser {
	dir := t.TempDir()
	b := &userBrowser{dir: dir, log: filepath.Join(dir, "opened")}
	script := "#!/bin/sh\n[ -e '" + filepath.Join(dir, "refuse") + "' ] && exit 3\nprintf '%s\\n' \"$1\" >> '" + b.log + "'\n"
	for _, name := range []string{"xdg-open", "browser"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b.client = &http.Client{
		Timeout: 10 * time.Second,
		// The demo's certificate authority lives only inside the demo
		// process; a person clicks through the browser's warning.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	t.Cleanup(b.client.CloseIdleConnections)
	return b
}

// env puts the browser first on PATH and in $BROWSER.
func (b *userBrowser) env() []string {
	return []string{"PATH=" + b.dir + ":" + os.Getenv("PATH"), "BROWSER=" + filepath.Join(b.dir, "browser")}
}

// refuse makes opening a browser fail (on) or work (off).
func (b *userBrowser) refuse(t *testing.T, on bool) {
	p := filepath.Join(b.dir, "refuse")
	if on {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	os.Remove(p)
}

// next returns the next URL the program opened, if any.
func (b *userBrowser) next() (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, _ := os.ReadFile(b.log)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(data) == 0 || b.done >= len(lines) {
		return "", false
	}
	b.done++
	return lines[b.done-1], true
}

// page loads a page and returns its body.
func (b *userBrowser) page(u string) (*http.Response, string, error) {
	resp, err := b.client.Get(u)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(body), err
}

var (
	reAppPassword = regexp.MustCompile(`(?s)<p>Your app password for your device</p>\s*<p>([^<]+)</p>`)
	reFormAction  = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	reHidden      = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
	reTags        = regexp.MustCompile(`(?s)<[^>]*>`)
)

func pageText(body string) string {
	return strings.Join(strings.Fields(html.UnescapeString(reTags.ReplaceAllString(body, " "))), " ")
}

// appPassword reads the app password off the provider's app-password page.
func (b *userBrowser) appPassword(u string) (string, error) {
	resp, body, err := b.page(u)
	if err != nil {
		return "", err
	}
	m := reAppPassword.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return "", fmt.Errorf("the app-password page %s answered %s: %q", u, resp.Status, pageText(body))
	}
	return html.UnescapeString(m[1]), nil
}

// approve signs in on the consent page at authURL, clicks "Approve" and
// follows the redirect back to the program's loopback listener.
func (b *userBrowser) approve(authURL string) error {
	resp, body, err := b.page(authURL)
	if err != nil {
		return err
	}
	action := reFormAction.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || action == nil {
		return fmt.Errorf("the sign-in page answered %s: %q", resp.Status, pageText(body))
	}
	form := url.Values{"action": {"Approve"}}
	for _, m := range reHidden.FindAllStringSubmatch(body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	base, err := url.Parse(authURL)
	if err != nil {
		return err
	}
	target, err := base.Parse(html.UnescapeString(action[1]))
	if err != nil {
		return err
	}
	resp, err = b.client.PostForm(target.String(), form)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || loc == "" {
		return fmt.Errorf("approving answered %s without a redirect", resp.Status)
	}
	if !strings.HasPrefix(loc, "http://127.0.0.1:") && !strings.HasPrefix(loc, "http://localhost:") && !strings.HasPrefix(loc, "http://[::1]:") {
		return fmt.Errorf("the consent redirected away from loopback: %s", loc)
	}
	resp, body, err = b.page(loc)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the loopback listener answered %s: %q", resp.Status, pageText(body))
	}
	return nil
}

// urlAfter reads a URL the wizard shows in full under the line holding
// intro, broken over several lines at the width.
func urlAfter(screen, intro string) string {
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if !strings.Contains(l, intro) {
			continue
		}
		var u strings.Builder
		for _, next := range lines[i+1:] {
			part := strings.TrimSpace(next)
			if part == "" || (u.Len() > 0 && strings.Contains(part, " ")) {
				break
			}
			u.WriteString(part)
		}
		return u.String()
	}
	return ""
}

// shots saves screens for the README when MAILMEND_SCREENSHOT_DIR is set.
type shots struct {
	dir  string
	term *tmuxtest.Term
}

func (s shots) save(t *testing.T, name string) {
	if s.dir == "" {
		return
	}
	ansi, err := s.term.CaptureANSI()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, name+".ansi"), []byte(ansi), 0o644); err != nil {
		t.Fatal(err)
	}
}

// repairer walks a repair wizard as a person would.
type repairer struct {
	t       *testing.T
	term    *tmuxtest.Term
	browser *userBrowser
	shots   shots
	// autoApprove: no browser opens, and the demo approves the consent
	// by itself.
	autoApprove bool
}

// repair presses r on the selected account and answers every step until
// the wizard says the account is fixed; it returns that screen.
func (r *repairer) repair(email string) string {
	t, term := r.t, r.term
	t.Helper()
	keys(t, term, "r")
	deadline := time.Now().Add(repairWait)
	var (
		last         string
		appPassword  string
		waitingSince time.Time
		shotWizard   bool
	)
	for time.Now().Before(deadline) {
		s := screen(t, term)
		if s == last {
			time.Sleep(tmuxtest.PollInterval)
			continue
		}
		switch {
		case strings.Contains(s, "✓ Fixed."):
			return s
		case strings.Contains(s, "✗ Not fixed."):
			t.Fatalf("repair of %s failed:\n%s", email, s)
		case strings.Contains(s, "enter: done, continue"):
			// The provider's page, opened in the browser (or copied from
			// the screen): the app password is shown there.
			shown := urlAfter(s, "Open this page")
			var err error
			if u, opened := r.browser.next(); opened {
				if appPassword, err = r.browser.appPassword(u); err != nil {
					t.Errorf("the page the wizard opened in the browser: %v", err)
				}
			}
			if appPassword == "" {
				if shown == "" {
					t.Fatalf("no URL on the wizard's page step:\n%s", s)
				}
				if appPassword, err = r.browser.appPassword(shown); err != nil {
					t.Fatalf("the page the wizard shows: %v", err)
				}
			}
			keys(t, term, "Enter")
		case strings.Contains(s, "paste works"):
			if appPassword == "" {
				t.Fatalf("the wizard asks for a secret before showing where to get it:\n%s", s)
			}
			before := strings.Count(s, appPassword)
			typeText(t, term, appPassword)
			typed := waitFor(t, term, fmt.Sprintf("%d characters", utf8.RuneCountInString(appPassword)))
			if strings.Count(typed, appPassword) > before || !strings.Contains(typed, strings.Repeat("•", utf8.RuneCountInString(appPassword))) {
				t.Errorf("the app password is not masked while typed:\n%s", typed)
			}
			if !shotWizard {
				r.shots.save(t, "wizard")
				shotWizard = true
			}
			// Answered: this screen must not be answered again.
			s = typed
			keys(t, term, "Enter")
		case strings.Contains(s, "Waiting for your browser"):
			if waitingSince.IsZero() {
				waitingSince = time.Now()
			}
			if u, ok := r.browser.next(); ok {
				if r.autoApprove {
					t.Fatalf("a browser was opened although none could be: %s", u)
				}
				if err := r.browser.approve(u); err != nil {
					t.Fatalf("consent in the browser: %v\n%s", err, s)
				}
			} else if !r.autoApprove && time.Since(waitingSince) > 3*time.Second {
				// No browser opened: copy the address into one.
				u := urlAfter(s, "open this URL")
				if u == "" {
					t.Fatalf("the wizard waits for a browser but shows no URL:\n%s", s)
				}
				t.Logf("no browser was opened for %s; following the URL shown", email)
				if err := r.browser.approve(u); err != nil {
					t.Fatalf("consent with the URL shown: %v\n%s", err, s)
				}
				waitingSince = time.Now().Add(time.Hour)
			}
			time.Sleep(tmuxtest.PollInterval)
			continue
		case strings.Contains(s, "enter: continue"):
			keys(t, term, "Enter")
		default:
			time.Sleep(tmuxtest.PollInterval)
			continue
		}
		last = s
	}
	t.Fatalf("repair of %s did not finish in %s:\n%s", email, repairWait, screen(t, term))
	return ""
}

// selectAccount filters the list down to one account so that it is under
// the cursor.
func selectAccount(t *testing.T, term *tmuxtest.Term, local string) {
	t.Helper()
	keys(t, term, "/")
	if _, err := term.WaitUntil(func(s string) bool {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, " /") {
				return true
			}
		}
		return false
	}, screenWait, "the filter line"); err != nil {
		t.Fatal(err)
	}
	typeText(t, term, local+"@")
	keys(t, term, "Enter")
	if _, err := term.WaitUntil(func(s string) bool {
		r := row(s, local)
		return strings.HasPrefix(r, "› ") && countRows(s) == 1
	}, screenWait, local+" alone and selected"); err != nil {
		t.Fatal(err)
	}
}

// backToList presses Esc until the unfiltered list is in front.
func backToList(t *testing.T, term *tmuxtest.Term, seeds int) {
	t.Helper()
	keys(t, term, "Escape")
	if _, err := term.WaitFor("ADDRESS", screenWait); err != nil {
		t.Fatal(err)
	}
	keys(t, term, "Escape")
	if _, err := term.WaitUntil(func(s string) bool { return isList(s) && countRows(s) == seeds }, screenWait, "the whole list"); err != nil {
		t.Fatal(err)
	}
}

// TestTUIDemo runs `mailmend demo` in an 80x24 terminal: the background
// diagnosis of every seeded account, d, the account screen, two repairs
// (an app password read off the provider's page, a browser consent),
// quitting, and a restored terminal. The D-Bus address points nowhere, so
// any use of the user's keyring would fail.
func TestTUIDemo(t *testing.T) {
	bin := mailmendBin(t)
	browser := newUserBrowser(t)
	h := newHome(t, append(browser.env(), noBus(t))...)
	term := tmuxtest.Start(t, tmuxtest.Options{Width: 80, Height: 24, Env: h.env}, bin, "demo")
	sh := shots{dir: os.Getenv(envScreenshotDir), term: term}
	seeds := demo.DefaultSeeds
	start := time.Now()

	if _, err := term.WaitFor("ada@gmail.com", screenWait); err != nil {
		t.Fatal(err)
	}
	if on, err := term.AlternateOn(); err != nil || !on {
		t.Errorf("the TUI does not use the alternate screen: %v %v", on, err)
	}
	// Every account is diagnosed in the background on start.
	if _, err := term.WaitUntil(allDiagnosed(seeds), screenWait, "every account diagnosed on start"); err != nil {
		t.Fatal(err)
	}
	t.Logf("list and background diagnosis of %d accounts: %s", len(seeds), time.Since(start).Round(time.Millisecond))

	// d diagnoses all again.
	keys(t, term, "d")
	s, err := term.WaitUntil(allDiagnosed(seeds), screenWait, "every account diagnosed after d")
	if err != nil {
		t.Fatal(err)
	}
	sh.save(t, "list")
	broken := 0
	for _, sd := range seeds {
		r := row(s, sd.Local)
		if sd.Scenario == sandbox.Healthy {
			if v := verdict(r); v != "healthy" {
				t.Errorf("%s: %s, want healthy: %q", sd.Email(), v, r)
			}
			continue
		}
		broken++
		if want := "✗ " + titlePrefix(sd.Scenario.Cause().Title()); !strings.Contains(r, want) {
			t.Errorf("%s: row lacks %q: %q", sd.Email(), want, r)
		}
	}
	if want := fmt.Sprintf("%d accounts · %d broken", len(seeds), broken); !strings.Contains(s, want) {
		t.Errorf("title bar lacks %q:\n%s", want, s)
	}

	// The account screen: the check ladder, the verdict, the cause.
	selectAccount(t, term, "linus")
	keys(t, term, "Enter")
	s, err = term.WaitFor("cause: wrong_password", screenWait)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"linus@gmail.com", "CHECKS", "imap.greeting", "imap.auth", "✗ The password was not accepted"} {
		if !strings.Contains(s, want) {
			t.Errorf("account screen lacks %q:\n%s", want, s)
		}
	}
	escAt := time.Now()
	keys(t, term, "Escape")
	if _, err := term.WaitFast(isList, 2*time.Second, "the list after esc"); err != nil {
		t.Fatal(err)
	}
	t.Logf("esc from the account screen to the list: %s", time.Since(escAt).Round(time.Millisecond))
	keys(t, term, "Escape")
	if _, err := term.WaitUntil(func(s string) bool { return countRows(s) == len(seeds) }, screenWait, "the filter cleared"); err != nil {
		t.Fatal(err)
	}

	rp := &repairer{t: t, term: term, browser: browser, shots: sh}

	// grace: app password required. The app password is on the provider's
	// app-password page, which the wizard opens (or shows).
	selectAccount(t, term, "grace")
	rp.repair("grace@gmail.com")
	keys(t, term, "Enter")
	if _, err := term.WaitFor("✓ Healthy: every check passed.", screenWait); err != nil {
		t.Fatalf("grace after the repair: %v", err)
	}
	backToList(t, term, len(seeds))
	if s := screen(t, term); verdict(row(s, "grace")) != "healthy" {
		t.Errorf("grace in the list after the repair: %q", row(s, "grace"))
	}

	// alan: access revoked. Reconsent in the browser: approve on the
	// sandbox's consent page.
	selectAccount(t, term, "alan")
	rp.repair("alan@gmail.com")
	keys(t, term, "Enter")
	if _, err := term.WaitFor("✓ Healthy: every check passed.", screenWait); err != nil {
		t.Fatalf("alan after the repair: %v", err)
	}
	backToList(t, term, len(seeds))

	// margaret: password changed, on a machine where no browser opens: the
	// demo approves the consent by itself.
	browser.refuse(t, true)
	rp.autoApprove = true
	selectAccount(t, term, "margaret")
	rp.repair("margaret@outlook.com")
	keys(t, term, "Enter")
	if _, err := term.WaitFor("✓ Healthy: every check passed.", screenWait); err != nil {
		t.Fatalf("margaret after the repair: %v", err)
	}
	backToList(t, term, len(seeds))
	s = screen(t, term)
	for _, local := range []string{"ada", "grace", "alan", "margaret"} {
		if v := verdict(row(s, local)); v != "healthy" {
			t.Errorf("%s: %s after the repairs: %q", local, v, row(s, local))
		}
	}
	if want := fmt.Sprintf("%d accounts · %d broken", len(seeds), broken-3); !strings.Contains(s, want) {
		t.Errorf("title bar lacks %q:\n%s", want, s)
	}

	// q quits: exit status 0, the normal screen is back.
	keys(t, term, "q")
	status, err := term.WaitExit(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if status != 0 {
		t.Errorf("exit status %d, want 0:\n%s", status, screen(t, term))
	}
	if on, err := term.AlternateOn(); err != nil || on {
		t.Errorf("alternate screen still on after quitting: %v %v", on, err)
	}
	// Nothing was written to the home: no keyring file, no config, no state.
	filepath.WalkDir(h.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("the demo left a file in HOME: %s", p)
		}
		return nil
	})
	t.Logf("TestTUIDemo: %s", time.Since(start).Round(time.Millisecond))
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestTUIKeyringAccounts adds accounts with the CLI into a private
// gnome-keyring and finds them in `mailmend`, the TUI over the keyring.
// One account's server accepts connections and never answers: Esc during
// its diagnosis returns to the list at once.
func TestTUIKeyringAccounts(t *testing.T) {
	kr := keyringtest.Start(t)
	h := newHome(t, kr.Env()...)
	silent, closed := silentServer(t), closedPort(t)
	for _, a := range []struct{ email, imap string }{
		{"hang@corp.example", silent},
		{"refused@corp.example", closed},
	} {
		r := h.run(t, randomSecret(t), "add", "--email", a.email, "--imap", a.imap, "--imap-security", "tls",
			"--smtp", closed, "--smtp-security", "tls", "--password-stdin", "--no-verify")
		if r.code != 0 {
			t.Fatalf("add %s: exit %d: %s", a.email, r.code, r.stderr)
		}
	}
	term := tmuxtest.Start(t, tmuxtest.Options{Width: 80, Height: 24, Env: h.env}, mailmendBin(t))
	s, err := term.WaitUntil(func(s string) bool {
		return row(s, "hang") != "" && row(s, "refused") != ""
	}, screenWait, "both keyring accounts in the list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, "2 accounts") || strings.Contains(s, "demo") {
		t.Errorf("title bar of the keyring TUI:\n%s", s)
	}
	// The refused one gets a verdict; the silent one is still being checked.
	s, err = term.WaitUntil(func(s string) bool {
		v := verdict(row(s, "refused"))
		return v == "broken" || v == "error"
	}, screenWait, "a verdict for the refused account")
	if err != nil {
		t.Fatal(err)
	}
	if v := verdict(row(s, "hang")); v != "checking" {
		t.Errorf("the silent server's account: %s, want checking: %q", v, row(s, "hang"))
	}

	// Esc during a diagnosis against the silent server. The time from
	// send-keys to the changed screen includes tmux and the polling; a key
	// that only redraws (? toggles the full help) measures that part, and
	// the program's own reaction to Esc is the difference. Medians of a
	// few tries keep one slow capture from deciding.
	selectAccount(t, term, "hang")
	var base, esc []time.Duration
	for range 3 {
		before := screen(t, term)
		at := time.Now()
		keys(t, term, "?")
		if _, err := term.WaitFast(func(s string) bool { return s != before }, 2*time.Second, "help toggled"); err != nil {
			t.Fatal(err)
		}
		base = append(base, time.Since(at))
		keys(t, term, "?")
		if _, err := term.WaitUntil(func(s string) bool { return s == before }, screenWait, "help toggled back"); err != nil {
			t.Fatal(err)
		}

		keys(t, term, "Enter")
		waitFor(t, term, "CHECKS")
		// Check again now, in case an earlier diagnosis gave up already.
		keys(t, term, "d")
		waitFor(t, term, "Checking…")
		at = time.Now()
		keys(t, term, "Escape")
		if _, err := term.WaitFast(isList, 2*time.Second, "the list after esc"); err != nil {
			t.Fatal(err)
		}
		esc = append(esc, time.Since(at))
	}
	b, e := median(base), median(esc)
	t.Logf("esc during a hanging diagnosis: list after %v (median %s); a redraw key: %v (median %s)", esc, e, base, b)
	if e-b > 100*time.Millisecond {
		t.Errorf("esc took %s longer than a plain redraw to bring back the list, want < 100ms", e-b)
	}
	if s := screen(t, term); verdict(row(s, "hang")) == "checking" {
		t.Errorf("the diagnosis was not cancelled by esc: %q", row(s, "hang"))
	}

	keys(t, term, "q")
	if status, err := term.WaitExit(10 * time.Second); err != nil || status != 0 {
		t.Errorf("exit: %d %v", status, err)
	}
	if on, err := term.AlternateOn(); err != nil || on {
		t.Errorf("alternate screen still on after quitting: %v %v", on, err)
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// checkLayout checks the list drawn for the terminal's width: the rule
// under the title spans it exactly, the summary ends at its right edge, and
// no line is longer (wrapped lines are joined before measuring). The screen
// it accepted is left in *seen.
func checkLayout(term *tmuxtest.Term, seeds []demo.Seed, seen *string) func(string) bool {
	return func(string) bool {
		w, _ := term.Size()
		s, err := term.CaptureJoined()
		*seen = s
		if err != nil || !isList(s) {
			return false
		}
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		if len(lines) < 2 || strings.TrimRight(lines[1], " ") != strings.Repeat("─", w) {
			return false
		}
		title := strings.TrimRight(lines[0], " ")
		if utf8.RuneCountInString(title) != w || !strings.HasSuffix(title, "broken") {
			return false
		}
		for _, l := range lines {
			if utf8.RuneCountInString(strings.TrimRight(l, " ")) > w {
				return false
			}
		}
		for _, sd := range seeds {
			if row(s, sd.Local) == "" {
				return false
			}
		}
		return true
	}
}

// TestTUIResize starts the demo at 120x40, shrinks it to 80x24 and grows it
// back: the list is laid out for each width, and the program keeps running.
func TestTUIResize(t *testing.T) {
	h := newHome(t, noBus(t))
	term := tmuxtest.Start(t, tmuxtest.Options{Width: 120, Height: 40, Env: h.env}, mailmendBin(t), "demo")
	seeds := demo.DefaultSeeds
	long := "margaret@outlook.com"
	// The address column grows with the width: at 80 cells a 20-character
	// address is cut, at 120 it is shown in full.
	for _, size := range []struct {
		w, h int
		full bool
	}{{120, 40, true}, {80, 24, false}, {120, 40, true}, {80, 24, false}, {120, 24, true}} {
		if w, hgt := term.Size(); w != size.w || hgt != size.h {
			if err := term.Resize(size.w, size.h); err != nil {
				t.Fatal(err)
			}
		}
		var s string
		if _, err := term.WaitUntil(checkLayout(term, seeds, &s), screenWait, fmt.Sprintf("the list laid out at %dx%d", size.w, size.h)); err != nil {
			t.Fatalf("%v\njoined:\n%s", err, s)
		}
		r := row(s, "margaret")
		if full := strings.Contains(r, long); full != size.full {
			t.Errorf("at width %d the address %s is shown in full: %v, want %v: %q", size.w, long, full, size.full, r)
		}
		if !size.full && !strings.Contains(r, "margaret@outlook.…") {
			t.Errorf("at width %d the address is not cut with an ellipsis: %q", size.w, r)
		}
		if dead, status, err := term.ExitStatus(); err != nil || dead {
			t.Fatalf("the program ended after a resize to %dx%d: status %d %v", size.w, size.h, status, err)
		}
	}
	// The verdicts at the last size: the wide HEALTH column shows whole
	// titles.
	s, err := term.WaitUntil(allDiagnosed(seeds), screenWait, "every account diagnosed")
	if err != nil {
		t.Fatal(err)
	}
	if r := row(s, "grace"); !strings.Contains(r, "✗ "+sandbox.AppPasswordRequired.Cause().Title()) {
		t.Errorf("the wide list does not show the whole title: %q", r)
	}
	shots{dir: os.Getenv(envScreenshotDir), term: term}.save(t, "list-wide")
	keys(t, term, "q")
	if status, err := term.WaitExit(10 * time.Second); err != nil || status != 0 {
		t.Errorf("exit: %d %v\n%s", status, err, screen(t, term))
	}
}
