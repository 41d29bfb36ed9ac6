//go:build linux

package e2e

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mailmend/mailmend/core/internal/keyringtest"
)

// TestCtrlCAtPasswordPrompt: Ctrl-C while `add` waits for the hidden
// password ends mailmend at once with exit 130, echo back on, nothing saved.
func TestCtrlCAtPasswordPrompt(t *testing.T) {
	kr := keyringtest.Start(t)
	h := newHome(t, kr.Env()...)
	cmd := exec.Command(mailmendBin(t), "add", "--email", "ctrlc@corp.example", "--imap", "mail.corp.example:993", "--no-verify")
	cmd.Env = h.env
	master, err := startInPTY(cmd, 80, 24)
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var seen bytes.Buffer
	buf := make([]byte, 4096)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(seen.String(), "(hidden)") {
		if time.Now().After(deadline) {
			t.Fatalf("no password prompt: %q", seen.String())
		}
		master.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := master.Read(buf)
		seen.Write(buf[:n])
	}
	// Half a password, then Ctrl-C.
	master.Write([]byte("half-typed"))
	time.Sleep(100 * time.Millisecond)
	termios, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if termios.Lflag&unix.ECHO != 0 {
		t.Fatal("echo is on while the password is typed")
	}
	sent := time.Now()
	master.Write([]byte{0x03})
	select {
	case err := <-exited:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 130 {
			t.Errorf("exit %v, want 130", err)
		}
		t.Logf("ended %s after Ctrl-C", time.Since(sent).Round(time.Millisecond))
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		t.Fatal("mailmend did not end within 3 s of Ctrl-C")
	}
	termios, err = unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
	if err == nil && termios.Lflag&unix.ECHO == 0 {
		t.Error("echo was left off after Ctrl-C")
	}
	if accts := h.list(t); len(accts) != 0 {
		t.Errorf("Ctrl-C saved %+v", accts)
	}
}
