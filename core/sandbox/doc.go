// Package sandbox runs built-in fake mail providers on loopback: an OAuth 2.0
// authorization server, IMAP and SMTP servers, all over TLS with a
// certificate authority the sandbox generates in memory. Each fake account
// has a Flavour (Google or Microsoft), whose texts its servers speak word
// for word, and a Scenario: healthy, one per cause of the catalog in
// core/cause, or hostile. `mailmend demo` and the end-to-end tests run
// against it.
//
// Every account gets its own IMAP and SMTP ports (implicit TLS and
// STARTTLS), so behaviour before login (outage greetings, hostile greetings)
// can differ per account while the OAuth server is shared. Scenarios change
// at run time with SetScenario; a repair that works in reality (an app
// password typed in, a new consent, a login with the right password) heals
// the account as the provider would, and Fix heals it outright.
//
// Nothing listens on anything but 127.0.0.1, nothing is written to disk, and
// Close stops every server and waits for their goroutines.
package sandbox
