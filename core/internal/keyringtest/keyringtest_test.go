package keyringtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartIsPrivateUnlockedAndStops(t *testing.T) {
	k := Start(t)
	if !strings.HasPrefix(k.Address, "unix:") {
		t.Fatalf("Address = %q, want a unix: bus address", k.Address)
	}
	if got := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); got == k.Address {
		t.Fatalf("Start changed the process environment")
	}
	locked, err := k.Locked()
	if err != nil || locked {
		t.Fatalf("Locked() = %v, %v; want unlocked", locked, err)
	}
	// The login keyring file lives under the private data dir.
	if _, err := os.Stat(filepath.Join(k.DataDir, "keyrings", "login.keyring")); err != nil {
		t.Fatalf("login keyring not in the private data dir: %v", err)
	}
	// A child process reaches the keyring through Env alone.
	if _, err := exec.LookPath("secret-tool"); err == nil {
		store := exec.Command("secret-tool", "store", "--label=probe", "service", "keyringtest-probe", "username", "u")
		store.Env = append([]string{"PATH=" + os.Getenv("PATH")}, k.Env()...)
		store.Stdin = strings.NewReader("value-1")
		if out, err := store.CombinedOutput(); err != nil {
			t.Fatalf("secret-tool store: %v: %s", err, out)
		}
		items, err := k.Items("keyringtest-probe")
		if err != nil || len(items) != 1 || items[0] != "u" {
			t.Fatalf("Items = %v, %v; want [u]", items, err)
		}
	}
	if err := k.Lock(); err != nil {
		t.Fatal(err)
	}
	if locked, err := k.Locked(); err != nil || !locked {
		t.Fatalf("after Lock, Locked() = %v, %v", locked, err)
	}
	pid := k.cmd.Process.Pid
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(k.Dir); !os.IsNotExist(err) {
		t.Fatalf("Close left %s behind: %v", k.Dir, err)
	}
	// No process of the group may survive.
	deadline := time.Now().Add(2 * time.Second)
	for syscall.Kill(-pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still alive after Close", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := k.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
