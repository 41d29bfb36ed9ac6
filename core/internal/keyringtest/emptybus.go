package keyringtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/internal/realparts"
)

// emptyBusConfig is a session bus that activates no services, so nothing
// owns org.freedesktop.secrets: a headless machine without a keyring.
const emptyBusConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=DIR</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// StartEmptyBus starts a private D-Bus session bus on which no Secret
// Service runs or can be activated, and returns its address; it is stopped
// when the test ends. Hand the address to a subprocess to see what a
// machine without a keyring daemon gets. A missing dbus-run-session skips
// the test (fails with MAILMEND_REQUIRE_REAL=1).
func StartEmptyBus(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-run-session"); err != nil {
		realparts.Missing(t, "dbus-run-session: %v", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, bytes.ReplaceAll([]byte(emptyBusConfig), []byte("DIR"), []byte(dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(dir, "bus-address")
	script := `printf '%s\n' "$DBUS_SESSION_BUS_ADDRESS" > "$1.tmp" && mv "$1.tmp" "$1" && exec sleep 600`
	cmd := exec.Command("dbus-run-session", "--config-file="+conf, "--", "sh", "-c", script, "sh", addrFile)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("keyringtest: start empty bus: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-waited
		}
	})
	deadline := time.After(StartTimeout)
	for {
		b, err := os.ReadFile(addrFile)
		if err == nil && len(bytes.TrimSpace(b)) > 0 {
			return string(bytes.TrimSpace(b))
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		select {
		case err := <-waited:
			t.Fatalf("keyringtest: empty bus exited: %v\n%s", err, log.String())
		case <-deadline:
			t.Fatalf("keyringtest: empty bus gave no address within %s", StartTimeout)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
