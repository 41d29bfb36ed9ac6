package probe

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/internal/dovecottest"
)

// Accounts on the shared Dovecot.
const (
	userAlice = "alice@mailmend.test"
	passAlice = `c0rrect "horse" \ battery`
	userUTF8  = "utf8@mailmend.test"
	passUTF8  = "pässwörd ünïcode"
	userCarol = "carol@mailmend.test" // OAuth only
	goodToken = "ya29.good-token"
)

var (
	shared     dovecottest.Shared
	introspect *httptest.Server
)

func TestMain(m *testing.M) {
	// The introspection endpoint Dovecot's oauth2 passdb asks: one good
	// token for carol, everything else inactive.
	introspect = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("token") == goodToken {
			_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "username": userCarol})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"active": false})
	}))
	shared.Options = dovecottest.Options{
		Users:                  map[string]string{userAlice: passAlice, userUTF8: passUTF8},
		OAuth2IntrospectionURL: introspect.URL + "/introspect",
	}
	code := m.Run()
	_ = shared.Close()
	introspect.Close()
	os.Exit(code)
}

func dovecot(t *testing.T) *dovecottest.Server {
	t.Helper()
	return shared.Get(t)
}

// ep turns a host:port address into an endpoint.
func liveEP(t testing.TB, addr string, sec account.Security) account.Endpoint {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return account.Endpoint{Host: host, Port: p, Security: sec}
}

// testOpts trusts the server's CA and uses short timeouts.
func liveOpts(srv *dovecottest.Server) Options {
	o := Options{Timeouts: Timeouts{Dial: 3 * time.Second, TLS: 3 * time.Second, Greeting: 3 * time.Second, Command: 5 * time.Second, Auth: 10 * time.Second}}
	if srv != nil {
		o.RootCAs = srv.CAPool()
	}
	return o
}

// names lists the results' names and statuses as "name=status".
func resultNames(rs []Result) string {
	var b []string
	for _, r := range rs {
		b = append(b, r.Name+"="+r.Status.String())
	}
	return strings.Join(b, " ")
}

func findResult(rs []Result, name string) Result {
	for _, r := range rs {
		if r.Name == name {
			return r
		}
	}
	return Result{Name: "missing:" + name}
}

// evidenceCode returns the first evidence with code, and whether there was one.
func findEvidence(evs []cause.Evidence, code string) (cause.Evidence, bool) {
	for _, e := range evs {
		if e.Code == code {
			return e, true
		}
	}
	return cause.Evidence{}, false
}
