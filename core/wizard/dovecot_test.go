package wizard

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/guard"
	"github.com/mailmend/mailmend/core/internal/dovecottest"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/store"
)

// The password wizard against a real Dovecot: a wrong password stays on
// the input with Dovecot's answer and counts in the guard; the right one is
// saved.
func TestWrongPasswordDovecot(t *testing.T) {
	const user, pass = "ann@example.test", "correct horse 1"
	srv := dovecottest.Start(t, dovecottest.Options{Users: map[string]string{user: pass}})
	host, port, _ := net.SplitHostPort(srv.IMAPS)
	p, _ := strconv.Atoi(port)
	st := store.New(store.NewMemory(), "")
	a, err := st.Save(t.Context(), account.Account{
		Email: user, Provider: provider.GenericID, Auth: account.Password,
		IMAP: account.Endpoint{Host: host, Port: p, Security: account.TLS},
	}, &store.Secret{Password: "old"})
	if err != nil {
		t.Fatal(err)
	}
	g := guard.New(filepath.Join(t.TempDir(), "guard"), nil)
	env := Env{
		Account: a, Store: st, Guard: g,
		Provider: provider.Provider{ID: provider.GenericID, Name: "Your own server", Auth: []account.AuthMethod{account.Password}},
		Probe:    probe.Options{RootCAs: srv.CAPool(), Timeouts: probe.Timeouts{Dial: 3 * time.Second, TLS: 3 * time.Second, Greeting: 3 * time.Second, Command: 5 * time.Second, Auth: 10 * time.Second}},
	}
	w := startWizard(t, cause.WrongPassword, env)
	expect[Explain](t, w)
	submit(t, w, "")
	in := expect[SecretInput](t, w)
	if in.Label != "Password for "+user || in.Hint != "" {
		t.Fatalf("input %+v", in)
	}
	submit(t, w, "wrong")
	in = expectPast[SecretInput](t, w)
	if !strings.Contains(in.Error, "AUTHENTICATIONFAILED") && !strings.Contains(in.Error, "Authentication failed") {
		t.Fatalf("error %q", in.Error)
	}
	if n, _ := g.Count(a.ID); n != 1 {
		t.Fatalf("guard count %d", n)
	}
	submit(t, w, pass) // inner spaces are part of the password
	if d := expectPast[Done](t, w); !d.OK {
		t.Fatalf("done %+v", d)
	}
	if sec, _ := st.Secret(t.Context(), a.ID); sec.Password != pass {
		t.Fatal("the verified password was not saved as typed")
	}
}
