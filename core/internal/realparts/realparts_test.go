package realparts

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// recorder notes how Missing ended the test instead of ending it.
type recorder struct {
	testing.TB
	how, msg string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(f string, a ...any) {
	r.how, r.msg = "fatal", fmt.Sprintf(f, a...)
}
func (r *recorder) Skipf(f string, a ...any) {
	r.how, r.msg = "skip", fmt.Sprintf(f, a...)
}

func TestMissing(t *testing.T) {
	for env, want := range map[string]string{"": "skip", "0": "skip", "1": "fatal"} {
		t.Setenv(EnvRequire, env)
		r := &recorder{TB: t}
		Missing(r, "no %s here", "dovecot")
		if r.how != want || r.msg == "" || !strings.Contains(r.msg, "no dovecot here") {
			t.Fatalf("%s=%q: Missing did %s %q, want %s", EnvRequire, env, r.how, r.msg, want)
		}
	}
}

func TestRequire(t *testing.T) {
	t.Setenv(EnvRequire, "")
	r := &recorder{TB: t}
	Require(r, "tmux", nil)
	if r.how != "" {
		t.Fatalf("Require(nil) ended the test: %s", r.how)
	}
	Require(r, "tmux", errors.New("not in PATH"))
	if r.how != "skip" || !strings.Contains(r.msg, "tmux: not in PATH") {
		t.Fatalf("Require(err) did %s %q", r.how, r.msg)
	}
}
