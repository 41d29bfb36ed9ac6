package oauth_test

import (
	"fmt"

	"github.com/mailmend/mailmend/core/oauth"
)

// Inside an SSH session the user is told how to forward the redirect port
// from the computer that runs the browser.
func ExampleSSHHint() {
	env := map[string]string{"SSH_CONNECTION": "198.51.100.4 51234 203.0.113.9 22", "USER": "alice"}
	fmt.Println(oauth.SSHHint(53682, func(k string) string { return env[k] }))
	// Output: ssh -N -L 53682:127.0.0.1:53682 alice@203.0.113.9
}

// Endpoints must be https; plain http is accepted only on loopback.
func ExampleConfig_Validate() {
	cfg := oauth.Config{ClientID: "mailmend", TokenURL: "http://id.example.com/token"}
	fmt.Println(cfg.Validate())
	cfg.TokenURL = "http://127.0.0.1:8443/token"
	fmt.Println(cfg.Validate())
	// Output:
	// oauth: token endpoint: "http://id.example.com/token" is plain http; only https is allowed (http only on loopback)
	// <nil>
}
