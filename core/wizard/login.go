package wizard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/guard"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/store"
)

// loginTimeout bounds one live login, on top of the probe's step timeouts.
const loginTimeout = 90 * time.Second

// commitTimeout bounds saving a verified credential. The save runs even
// when the wizard is cancelled meanwhile: the credential already works.
const commitTimeout = 30 * time.Second

// loginResult is the outcome of one live login.
type loginResult struct {
	ok bool
	// msg says why it failed, for the step's Error.
	msg  string
	diag cause.Diagnosis
	// refused says the server refused the credential (it counts toward a
	// lockout).
	refused bool
}

// allowLogin asks the guard for one attempt, showing a Wait step while the
// account is held back. It returns an error only when the guard cannot be
// read or ctx ends.
func (w *Wizard) allowLogin(ctx context.Context) error {
	g := w.env.Guard
	if g == nil {
		return nil
	}
	key := guardKey(w.env.Account)
	for {
		ok, wait, err := g.Allow(key)
		if ok {
			return nil
		}
		if err != nil && !errors.Is(err, guard.ErrCorrupt) {
			return fmt.Errorf("wizard: the lockout guard could not be read, so no login was tried: %w", err)
		}
		reason := fmt.Sprintf("%d logins failed in the last %s. To keep %s from locking the account, the next try waits until then.",
			guard.Limit, guard.Window, providerName(w.env.Provider))
		if err := w.waitFor(ctx, wait, reason); err != nil {
			return err
		}
	}
}

// settleLogin reports a login's outcome to the guard: a refusal counts, a
// success clears the count, anything that never reached authentication is
// given back.
func (w *Wizard) settleLogin(authOK, reachedAuth bool) {
	g := w.env.Guard
	if g == nil {
		return
	}
	key := guardKey(w.env.Account)
	switch {
	case authOK:
		_ = g.Succeeded(key)
	case reachedAuth:
		_ = g.Failed(key)
	default:
		_ = g.Release(key)
	}
}

// login runs one guarded live IMAP login with cred against the account's
// server, showing a Working step.
func (w *Wizard) login(ctx context.Context, cred probe.Credential, what string) (loginResult, error) {
	a := w.env.Account
	if a.IMAP.IsZero() {
		return loginResult{}, errors.New("wizard: the account has no IMAP server set")
	}
	if err := w.allowLogin(ctx); err != nil {
		return loginResult{}, err
	}
	if err := w.show(ctx, Working{What: fmt.Sprintf("%s: IMAP login to %s as %s", what, a.IMAP.Addr(), a.Login())}); err != nil {
		w.settleLogin(false, false)
		return loginResult{}, err
	}
	lctx, cancel := context.WithTimeout(ctx, loginTimeout)
	results, err := probe.IMAPLogin(lctx, a.IMAP, a.Login(), cred, w.env.Probe)
	cancel()
	authOK, reached := false, false
	for _, r := range results {
		if r.Name == probe.CheckIMAPAuth {
			authOK = r.Status == probe.OK || r.Status == probe.Warn
			reached = r.Status == probe.Fail
		}
	}
	var ae *probe.AuthError
	refused := errors.As(err, &ae)
	w.settleLogin(authOK, reached || refused)
	if ctx.Err() != nil {
		return loginResult{}, ctx.Err()
	}
	if authOK {
		return loginResult{ok: true}, nil
	}
	res := loginResult{refused: refused}
	res.diag = cause.Classify(probe.EvidenceOf(err), cause.Context{Provider: a.Provider, Auth: authName(cred)})
	var pe *probe.ProtocolError
	switch {
	case refused:
		res.msg = "The server refused it: " + oneLine(ae.Msg)
	case errors.As(err, &pe):
		res.msg = "Could not test it (" + pe.Check + "): " + oneLine(pe.Msg)
	case err != nil:
		res.msg = "Could not test it: " + errText(err)
	default:
		res.msg = "The login did not complete."
	}
	if res.diag.Cause != "" && res.diag.Cause != cause.Unknown {
		res.msg += " — likely cause: " + res.diag.Title + " (" + string(res.diag.Cause) + ")."
	}
	if refused && w.env.Guard != nil {
		if n, err := w.env.Guard.Count(guardKey(a)); err == nil {
			res.msg += fmt.Sprintf(" %d of %d attempts left in %s.", max(guard.Limit-n, 0), guard.Limit, guard.Window)
		}
	}
	return res, nil
}

func authName(c probe.Credential) string {
	if c.IsToken() {
		return string(account.OAuth2)
	}
	return string(account.Password)
}

// clientItem is what the store's client item holds.
type clientItem struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
}

// commit saves a verified credential: the secret replaces the old one, then
// the account records the change (same id), and the OAuth client is saved
// when one was entered. A new account is added with Store.Save. The save
// is not stopped by ctx ending: the credential already works.
func (w *Wizard) commit(ctx context.Context, sec store.Secret, client *clientItem, change func(*account.Account)) (account.Account, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	st := w.env.Store
	var saved account.Account
	err := st.Tx(cctx, func(tx *store.Tx) error {
		if client != nil {
			raw, err := json.Marshal(client)
			if err != nil {
				return errors.New("wizard: encode the OAuth client failed")
			}
			err = st.Backend().Set(ClientKey(w.env.Provider.ID), raw)
			clear(raw)
			if err != nil {
				return fmt.Errorf("wizard: save the OAuth client: %w", err)
			}
		}
		a := w.env.Account
		if a.ID == "" {
			change(&a)
			var err error
			saved, err = tx.Save(cctx, a, &sec)
			return err
		}
		if err := tx.SetSecret(cctx, a.ID, sec); err != nil {
			return err
		}
		var err error
		saved, err = tx.Update(cctx, a.ID, func(a *account.Account) error {
			change(a)
			return nil
		})
		return err
	})
	if err != nil {
		return account.Account{}, err
	}
	w.mu.Lock()
	w.saved = &saved
	w.env.Account = saved
	w.mu.Unlock()
	return saved, nil
}

// markHealthy records a passed live test on the account.
func (w *Wizard) markHealthy(now time.Time) func(*account.Account) {
	return func(a *account.Account) {
		a.Status = account.Healthy
		a.Cause = ""
		a.LastOK = now.UTC()
		a.CheckedAt = now.UTC()
	}
}

// password is the password / app-password wizard: explain, open the
// app-password page, take the secret, test it live, save it.
func (w *Wizard) password(ctx context.Context, explain bool) (Done, error) {
	p := w.env.Provider
	if explain {
		var extra []string
		if p.AppPasswordPrereq != "" {
			extra = append(extra, "**Before you start:** "+p.AppPasswordPrereq+".")
		}
		if _, err := w.ask(ctx, w.explainCause(w.id, extra...)); err != nil {
			return Done{}, err
		}
	}
	if p.AppPasswordURL != "" {
		why := "Make a new app password for mail there, then enter it in the next step."
		if p.AppPasswordPrereq != "" {
			why += " " + p.AppPasswordPrereq + "."
		}
		if err := w.visit(ctx, p.AppPasswordURL, providerName(p)+" app passwords", why); err != nil {
			return Done{}, err
		}
	}
	label := "Password"
	if p.AppPasswordURL != "" || w.id == cause.AppPasswordRequired {
		label = "App password"
	}
	normalize := func(s string) (string, error) { return NormalizePassword(p, s) }
	in := SecretInput{Label: label + " for " + w.env.Account.Email, Hint: passwordHint(p), Mask: true, Validate: normalize}
	for {
		raw, err := w.ask(ctx, in)
		if err != nil {
			return Done{}, err
		}
		pw, err := normalize(raw)
		if err != nil {
			in.Error = errText(err)
			continue
		}
		res, err := w.login(ctx, probe.Credential{Password: pw}, "Testing the new "+lower(label))
		if err != nil {
			return Done{}, err
		}
		if !res.ok {
			in.Error = res.msg
			continue
		}
		now := w.now()
		if _, err := w.commit(ctx, store.Secret{Password: pw}, nil, func(a *account.Account) {
			a.Auth = account.Password
			a.ConsentedAt = time.Time{}
			w.markHealthy(now)(a)
		}); err != nil {
			return Done{}, fmt.Errorf("wizard: the %s works but could not be saved: %w", lower(label), err)
		}
		return Done{OK: true, Message: "The " + lower(label) + " works: the live login passed and it was saved."}, nil
	}
}

// NormalizePassword cleans a typed password by the provider's app-password
// format rule (provider.NormalizeAppPassword). A provider without a format
// rule keeps the password as typed, only trimming a trailing line break.
func NormalizePassword(p provider.Provider, s string) (string, error) {
	if p.AppPasswordFormat == "" || p.AppPasswordFormat == provider.FormatNone {
		s = strings.TrimRight(s, "\r\n")
		if s == "" {
			return "", errors.New("wizard: the password is empty")
		}
		return s, nil
	}
	return provider.NormalizeAppPassword(p, s)
}

func lower(s string) string { return strings.ToLower(s) }
