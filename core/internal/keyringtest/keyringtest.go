// Package keyringtest starts a private Secret Service for tests: a D-Bus
// session bus (dbus-run-session) with gnome-keyring-daemon in it, unlocked
// from stdin, with its own HOME and XDG directories so the user's real
// keyring files are never touched.
//
// Use Shared in tests of a package whose TestMain returns Main(m): the first
// test that needs the keyring starts it, points DBUS_SESSION_BUS_ADDRESS of
// the test process at it, and Main stops it after the last test. Start gives
// a test its own instance (without changing the process environment: godbus
// caches the session bus connection per process, so a second bus is for
// subprocesses, reached through Env). When dbus-run-session or
// gnome-keyring-daemon is not installed the test is skipped, or fails when
// MAILMEND_REQUIRE_REAL=1 (see realparts).
package keyringtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/mailmend/mailmend/core/internal/realparts"
)

// ErrMissing means a program the private keyring needs is not installed.
var ErrMissing = errors.New("keyringtest: dbus-run-session or gnome-keyring-daemon not installed")

// StartTimeout bounds how long Launch waits for the keyring to be ready.
const StartTimeout = 15 * time.Second

// D-Bus names of the Secret Service.
const (
	secretsName     = "org.freedesktop.secrets"
	secretsPath     = "/org/freedesktop/secrets"
	serviceIface    = "org.freedesktop.Secret.Service"
	collectionIface = "org.freedesktop.Secret.Collection"
	// LoginCollection is the D-Bus path of the collection go-keyring uses.
	LoginCollection = dbus.ObjectPath("/org/freedesktop/secrets/collection/login")
)

// Keyring is a running private D-Bus session with an unlocked
// gnome-keyring. Close stops it and removes its directories.
type Keyring struct {
	// Address is the bus address (the DBUS_SESSION_BUS_ADDRESS value).
	Address string
	// Dir is the private root holding home/, data/, config/, cache/, run/.
	Dir string
	// Home is the private HOME given to the daemon.
	Home string
	// DataDir is the private XDG_DATA_HOME; keyring files live in its
	// keyrings/ folder.
	DataDir string
	// StartupTime is how long Launch took until the login collection was
	// there and unlocked.
	StartupTime time.Duration

	cmd     *exec.Cmd
	conn    *dbus.Conn
	logPath string
	once    sync.Once
	waitErr chan error
}

// Env returns the environment entries a child process needs to use this
// keyring: DBUS_SESSION_BUS_ADDRESS.
func (k *Keyring) Env() []string {
	return []string{"DBUS_SESSION_BUS_ADDRESS=" + k.Address}
}

// Launch starts a private keyring and waits until org.freedesktop.secrets
// is owned on its bus and the login collection exists and is unlocked. It
// returns an error wrapping ErrMissing when a program is not installed. The
// caller must Close the result. Launch does not change the environment of
// the calling process.
func Launch() (*Keyring, error) {
	for _, bin := range []string{"dbus-run-session", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMissing, err)
		}
	}
	start := time.Now()
	dir, err := os.MkdirTemp("", "mailmend-keyring-")
	if err != nil {
		return nil, fmt.Errorf("keyringtest: %w", err)
	}
	k := &Keyring{
		Dir:     dir,
		Home:    filepath.Join(dir, "home"),
		DataDir: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, "session.log"),
		waitErr: make(chan error, 1),
	}
	for _, sub := range []string{"home", "data", "config", "cache", "run"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("keyringtest: %w", err)
		}
	}
	addrFile := filepath.Join(dir, "bus-address")
	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	logf, err := os.Create(k.logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("keyringtest: %w", err)
	}
	defer logf.Close()

	// The shell writes the bus address for us, then becomes the daemon,
	// which reads the login keyring's password from stdin and, finding no
	// login keyring, creates it unlocked.
	script := `printf '%s\n' "$DBUS_SESSION_BUS_ADDRESS" > "$1.tmp" && mv "$1.tmp" "$1" && exec gnome-keyring-daemon --foreground --unlock --components=secrets`
	cmd := exec.Command("dbus-run-session", "--", "sh", "-c", script, "sh", addrFile)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(hex.EncodeToString(pw))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + k.Home,
		"XDG_DATA_HOME=" + k.DataDir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"XDG_RUNTIME_DIR=" + filepath.Join(dir, "run"),
		"LANG=C.UTF-8",
	}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("keyringtest: start dbus-run-session: %w", err)
	}
	k.cmd = cmd
	go func() { k.waitErr <- cmd.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := k.waitReady(ctx, addrFile); err != nil {
		log := k.log()
		k.Close()
		return nil, fmt.Errorf("keyringtest: private keyring not ready: %w\n--- session log ---\n%s", err, log)
	}
	k.StartupTime = time.Since(start)
	return k, nil
}

func (k *Keyring) log() string {
	b, _ := os.ReadFile(k.logPath)
	return string(b)
}

// pause waits d, or reports why it should not wait any longer.
func (k *Keyring) pause(ctx context.Context, d time.Duration) error {
	select {
	case err := <-k.waitErr:
		k.waitErr <- err
		return fmt.Errorf("dbus-run-session exited: %v", err)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (k *Keyring) waitReady(ctx context.Context, addrFile string) error {
	for {
		b, err := os.ReadFile(addrFile)
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			k.Address = string(bytes.TrimSpace(b))
			break
		}
		if err := k.pause(ctx, 5*time.Millisecond); err != nil {
			return fmt.Errorf("waiting for the bus address: %w", err)
		}
	}
	conn, err := dbus.Connect(k.Address)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", k.Address, err)
	}
	k.conn = conn
	var last error
	for {
		if last = k.checkLogin(ctx); last == nil {
			return nil
		}
		if err := k.pause(ctx, 10*time.Millisecond); err != nil {
			return fmt.Errorf("waiting for an unlocked login collection (last: %v): %w", last, err)
		}
	}
}

// checkLogin verifies that the Secret Service is on the bus, that the
// default alias names the login collection and that it is unlocked.
func (k *Keyring) checkLogin(ctx context.Context) error {
	var owned bool
	if err := k.conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, secretsName).Store(&owned); err != nil {
		return err
	}
	if !owned {
		return errors.New(secretsName + " has no owner yet")
	}
	svc := k.conn.Object(secretsName, secretsPath)
	v, err := svc.GetProperty(serviceIface + ".Collections")
	if err != nil {
		return err
	}
	cols, _ := v.Value().([]dbus.ObjectPath)
	if !slices.Contains(cols, LoginCollection) {
		return fmt.Errorf("no login collection (have %v)", cols)
	}
	var alias dbus.ObjectPath
	if err := svc.CallWithContext(ctx, serviceIface+".ReadAlias", 0, "default").Store(&alias); err != nil {
		return err
	}
	if alias != LoginCollection {
		return fmt.Errorf("default alias is %q, not the login collection", alias)
	}
	locked, err := k.Locked()
	if err != nil {
		return err
	}
	if locked {
		return errors.New("login collection is locked")
	}
	return nil
}

// Locked reports whether the login collection is locked.
func (k *Keyring) Locked() (bool, error) {
	v, err := k.conn.Object(secretsName, LoginCollection).GetProperty(collectionIface + ".Locked")
	if err != nil {
		return false, fmt.Errorf("keyringtest: read Locked: %w", err)
	}
	locked, ok := v.Value().(bool)
	if !ok {
		return false, fmt.Errorf("keyringtest: Locked is %v", v)
	}
	return locked, nil
}

// Lock locks the login collection, as a screen lock or timeout would. A
// client then needs a prompt to unlock it, which a headless session cannot
// show.
func (k *Keyring) Lock() error {
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err := k.conn.Object(secretsName, secretsPath).Call(serviceIface+".Lock", 0, []dbus.ObjectPath{LoginCollection}).Store(&locked, &prompt)
	if err != nil {
		return fmt.Errorf("keyringtest: lock: %w", err)
	}
	if !slices.Contains(locked, LoginCollection) {
		return fmt.Errorf("keyringtest: lock: login collection not locked (prompt %s)", prompt)
	}
	return nil
}

// Items returns the values of the Secret Service attribute "username" of
// every item whose "service" attribute is service, as go-keyring stores
// them; tests use it to see which items really exist.
func (k *Keyring) Items(service string) ([]string, error) {
	var unlocked, locked []dbus.ObjectPath
	err := k.conn.Object(secretsName, secretsPath).Call(serviceIface+".SearchItems", 0, map[string]string{"service": service}).Store(&unlocked, &locked)
	if err != nil {
		return nil, fmt.Errorf("keyringtest: search: %w", err)
	}
	var users []string
	for _, p := range append(unlocked, locked...) {
		v, err := k.conn.Object(secretsName, p).GetProperty("org.freedesktop.Secret.Item.Attributes")
		if err != nil {
			return nil, fmt.Errorf("keyringtest: attributes of %s: %w", p, err)
		}
		attrs, _ := v.Value().(map[string]string)
		users = append(users, attrs["username"])
	}
	slices.Sort(users)
	return users, nil
}

// Close stops the session (the whole process group) and removes Dir. It
// is safe to call more than once.
func (k *Keyring) Close() error {
	var err error
	k.once.Do(func() {
		if k.conn != nil {
			k.conn.Close()
		}
		if k.cmd != nil && k.cmd.Process != nil {
			pgid := k.cmd.Process.Pid
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-k.waitErr:
			case <-time.After(3 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-k.waitErr
			}
		}
		err = os.RemoveAll(k.Dir)
	})
	return err
}

// Start launches a keyring for one test and stops it when the test ends.
// It does not change the process environment; hand Env to subprocesses.
// A missing program skips the test (fails with MAILMEND_REQUIRE_REAL=1).
func Start(t testing.TB) *Keyring {
	t.Helper()
	k, err := Launch()
	if errors.Is(err, ErrMissing) {
		realparts.Missing(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	t.Logf("keyringtest: private gnome-keyring ready in %s", k.StartupTime.Round(time.Millisecond))
	return k
}

var shared struct {
	once sync.Once
	k    *Keyring
	err  error
}

// Shared returns the package-wide keyring, starting it on first use and
// setting DBUS_SESSION_BUS_ADDRESS of the test process to it, so that
// go-keyring talks to it. The package's TestMain must return Main(m) so it
// is stopped. A missing program skips the test (fails with
// MAILMEND_REQUIRE_REAL=1).
func Shared(t testing.TB) *Keyring {
	t.Helper()
	shared.once.Do(func() {
		shared.k, shared.err = Launch()
		if shared.err == nil {
			os.Setenv("DBUS_SESSION_BUS_ADDRESS", shared.k.Address)
			t.Logf("keyringtest: private gnome-keyring ready in %s", shared.k.StartupTime.Round(time.Millisecond))
		}
	})
	if errors.Is(shared.err, ErrMissing) {
		realparts.Missing(t, "%v", shared.err)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.k
}

// Main runs the package's tests and stops the shared keyring afterwards.
// Use it as: func TestMain(m *testing.M) { os.Exit(keyringtest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if shared.k != nil {
		shared.k.Close()
	}
	return code
}
