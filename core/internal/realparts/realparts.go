// Package realparts decides what a test does when a real part it needs
// (a D-Bus session, gnome-keyring, dovecot, tmux, ...) is missing on the
// machine: it skips with a message, or fails when the environment variable
// MAILMEND_REQUIRE_REAL is "1" (as CI sets it) so that a missing install
// step cannot hide behind a skipped test.
package realparts

import (
	"fmt"
	"os"
	"testing"
)

// EnvRequire is the environment variable that turns skips into failures
// when set to "1".
const EnvRequire = "MAILMEND_REQUIRE_REAL"

// Required reports whether real parts are required (MAILMEND_REQUIRE_REAL=1).
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Missing reports that a real part the test needs is unavailable. It calls
// t.Fatalf when MAILMEND_REQUIRE_REAL=1 and t.Skipf otherwise; either way
// the test stops here. The message is formatted like fmt.Sprintf.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Required() {
		t.Fatalf("real part missing (%s=1): %s", EnvRequire, msg)
		return
	}
	t.Skipf("real part missing, skipping: %s", msg)
}

// Require calls Missing with what and err when err is not nil, and does
// nothing otherwise. It is a shorthand for "start X or skip".
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		Missing(t, "%s: %v", what, err)
	}
}
