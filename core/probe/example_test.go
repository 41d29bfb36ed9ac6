package probe_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/probe"
)

// IMAPLogin runs the whole IMAP path and reports every check; a refused
// login comes back as *probe.AuthError with the server's response code as
// evidence.
func ExampleIMAPLogin() {
	ep := account.Endpoint{Host: "imap.example.com", Port: 993, Security: account.TLS}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results, err := probe.IMAPLogin(ctx, ep, "me@example.com", probe.Credential{Password: "app-password"}, probe.Options{})
	for _, r := range results {
		fmt.Printf("%-16s %-4s %s\n", r.Name, r.Status, r.Detail)
	}
	var auth *probe.AuthError
	if errors.As(err, &auth) {
		for _, ev := range auth.Evidence {
			fmt.Println("evidence:", ev.Kind, ev.Code)
		}
	}
}

// The step-wise API runs one check at a time, for a caller that streams
// progress.
func ExampleDialIMAP() {
	ctx := context.Background()
	ep := account.Endpoint{Host: "imap.example.com", Port: 143, Security: account.StartTLS}
	conn, results, err := probe.DialIMAP(ctx, ep, probe.Options{Timeouts: probe.Timeouts{Greeting: 5 * time.Second}})
	if err != nil {
		fmt.Println(err, probe.EvidenceOf(err))
		return
	}
	defer conn.Logout(ctx)
	if r, err := conn.Capability(ctx); err == nil {
		results = append(results, r)
	}
	r, err := conn.Login(ctx, "me@example.com", probe.Credential{AccessToken: "ya29..."})
	results = append(results, r)
	fmt.Println(len(results), err)
}
