// Package wizard repairs a mail account: one step machine per cause of the
// catalog in core/cause, independent of any user interface. The TUI and the
// command line (`mailmend reconnect`, `mailmend add --auth oauth2`) show the
// same steps; RunLines is the plain line-mode driver.
//
// # Driving a wizard
//
// For(id, env) builds the wizard for a cause (or Reconnect for a plain
// reconnect). Start runs it in its own goroutine; each Step it reaches is
// delivered on Steps (Next reads one, starting the wizard when needed, and
// is what a Bubble Tea command calls: it blocks, Update never does). The
// wizard waits for each step to be received. Steps are plain data:
//
//	Explain      the cause's guide plus the evidence          Submit("")
//	OpenURL      a provider page (opened when allowed)        Submit("")
//	SecretInput  masked input (password, app password, secret) Submit(value)
//	TextInput    visible input (OAuth client id)              Submit(value)
//	Consent      browser sign-in in progress                  Submit(pasted URL) or by itself
//	DeviceCode   code to enter on another device              by itself
//	Choose       options                                      Choose(i) or Submit(key)
//	Wait         countdown (lockout guard, backoff)           by itself
//	Working      a live test or request is running            by itself
//	Done         the end; OK says the account works now
//
// Submit and Choose return at once; the answer is checked by the wizard,
// and a rejected one comes back as the same step with Error set (a wrong
// app password shows the server's sanitized answer and the attempts left).
// Cancel, or cancelling the context given to Start, stops everything (the
// sign-in listener, a live test, a wait) and closes Steps.
//
// # What is saved, and when
//
// Nothing is written until a live test passed with the new credential: an
// app password is saved only after an IMAP login with it succeeded; a new
// OAuth grant replaces the old one (Store.SetSecret, same account id) only
// after an XOAUTH2 login with its access token succeeded, and the account
// then records ConsentedAt, Status healthy and an empty Cause. A cancelled
// wizard leaves the store untouched, except that a save already under way
// for a verified credential is finished. A new account (empty Account.ID)
// is added with Store.Save once verified. Settings (wrong_settings) are
// saved only after a re-test with them reached the server.
//
// An OAuth client the user enters (no client configured, or invalid_client)
// is kept in the credential store under ClientKey(provider id) =
// "client:<provider id>", a JSON item {"client_id", "client_secret"} beside
// the account items; it is written with the grant it verified. LoadClient
// and ApplyStoredClient read it back when an account's oauth.Config is
// resolved.
//
// # The machines
//
//   - wrong_password, app_password_required: explain (with the provider's
//     prerequisite), open the app-password page, masked input normalised by
//     the provider's format rule, guarded live IMAP login (a Wait step while
//     the lockout guard holds logins back), save, Done.
//   - password_changed, access_revoked, token_expired, interaction_required,
//     consent_required, code_invalid, insufficient_scope: reconsent. The
//     loopback flow (Consent with the URL to copy, the SSH hint, and a
//     pasted redirect address accepted), or the device flow when Env.Device
//     is set and the provider has one (never Google). One exchange, then the
//     XOAUTH2 login, then the save. A denied or failed sign-in, or a paste
//     with the wrong state, comes back as Consent with the error; the
//     browser is opened by itself only for the first sign-in.
//   - oauth_app_in_testing: how to publish the Google client, a Choose
//     ("published" / "later"), then reconsent.
//   - redirect_uri_mismatch: the exact redirect URI of a prepared flow and
//     how to register it per provider, then the consent with that flow.
//   - invalid_client: client id and secret, tested with a refresh of the
//     stored grant (saved with the rotated token) or, without one, by a
//     consent; a refusal asks again.
//   - clock_skew: the measured offset and the commands that turn on time
//     sync, then probe.Clock again until within cause.ClockTolerance, then a
//     re-test.
//   - wrong_settings: the account's servers beside the provider's known-good
//     ones; "apply" re-tests with them and saves them.
//   - provider_unavailable, rate_limited: Wait and re-test with Backoff
//     (30 s, 1 min, 2 min, 4 min, then 5 min) until the account works,
//     another cause appears, or the context ends.
//   - account_blocked: the provider's security page, "done", re-test.
//   - basic_auth_disabled: switch to OAuth (reconsent) or an app password.
//   - protocol_disabled: where to switch IMAP/SMTP on, then re-test.
//   - unknown: the evidence and a pointer to `mailmend report`.
//
// Re-tests call Env.Verify (the doctor); a Done whose re-test found another
// cause names it in Next.
package wizard
