package sandbox_test

import (
	"context"
	"fmt"

	"github.com/mailmend/mailmend/core/sandbox"
)

// Seeding a demo: two broken accounts, one seeded grant, then the repair the
// provider would accept.
func Example() {
	sb, err := sandbox.Start(context.Background(), nil)
	if err != nil {
		panic(err)
	}
	defer sb.Close()

	_ = sb.AddUser(sandbox.UserSpec{Email: "ann@gmail.test", Flavour: sandbox.Google, Scenario: sandbox.AppPasswordRequired})
	_ = sb.AddUser(sandbox.UserSpec{Email: "bob@outlook.test", Flavour: sandbox.Microsoft, Scenario: sandbox.TokenExpired})
	tok, _ := sb.IssueToken("bob@outlook.test") // what the keyring would hold
	settings, _ := sb.Settings("ann@gmail.test")
	app, _ := sb.AppPassword("ann@gmail.test")

	fmt.Println(settings.IMAP.Host, settings.IMAP.Security, len(app), tok.RefreshToken != "")
	for _, email := range sb.Users() {
		s, _ := sb.Scenario(email)
		fmt.Println(email, s, s.Cause())
	}
	_ = sb.Fix("bob@outlook.test")
	s, _ := sb.Scenario("bob@outlook.test")
	fmt.Println("after Fix:", s)
	// Output:
	// 127.0.0.1 tls 16 true
	// ann@gmail.test app_password_required app_password_required
	// bob@outlook.test token_expired token_expired
	// after Fix: healthy
}
