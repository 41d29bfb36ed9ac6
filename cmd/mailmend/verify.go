package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/config"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/guard"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/sanitize"
)

// guardKey names the account in the lockout guard: its id when it exists,
// otherwise a digest of the address (a new account has no id yet).
func (a *app) guardKey(ctx context.Context, acct account.Account) string {
	if acct.ID != "" {
		return acct.ID
	}
	if st, err := a.store(); err == nil {
		if existing, err := st.Find(ctx, acct.Email); err == nil {
			return existing.ID
		}
	}
	sum := sha256.Sum256([]byte(strings.ToLower(acct.Email)))
	return "addr-" + hex.EncodeToString(sum[:8])
}

// loginGuard returns the cross-process lockout guard, or nil when the state
// directory cannot be found.
func (a *app) loginGuard() *guard.Guard {
	dir, err := config.StateDir()
	if err != nil {
		return nil
	}
	return guard.New(filepath.Join(dir, "guard"), nil)
}

// verifyPassword logs in to the account's IMAP server with password, with
// the lockout guard around it. A refusal is exit 4 with the server's
// answer; a network or TLS failure is exit 5 or 1 with the cause.
func (a *app) verifyPassword(ctx context.Context, acct account.Account, password string) error {
	g := a.loginGuard()
	key := a.guardKey(ctx, acct)
	if g != nil {
		ok, wait, err := g.Allow(key)
		if !ok {
			if err != nil {
				return fmt.Errorf("the lockout guard could not be read, so no login was tried: %w", err)
			}
			return withCode(exitTransient, fmt.Errorf("%d logins for %s failed in the last %s; to keep the provider from locking the account, try again in %s",
				guard.Limit, sanitize.Line(acct.Email), guard.Window, wait.Round(time.Second)))
		}
	}
	opts := a.probeOptions()
	_, err := probe.IMAPLogin(ctx, acct.IMAP, acct.Login(), probe.Credential{Password: password}, opts)
	var ae *probe.AuthError
	if g != nil {
		switch {
		case err == nil:
			_ = g.Succeeded(key)
		case errors.As(err, &ae):
			_ = g.Failed(key)
		default:
			_ = g.Release(key)
		}
	}
	if err == nil {
		return nil
	}
	d := cause.Classify(probe.EvidenceOf(err), cause.Context{Provider: acct.Provider, Auth: string(acct.Auth)})
	if ae != nil {
		return withCode(exitReconnect, fmt.Errorf("the server refused the login, nothing was saved: %s\n  Cause: %s (%s). See: mailmend explain %q", ae.Msg, d.Title, d.Cause, ae.Msg))
	}
	code := exitProblem
	if d.Retry == cause.RetryLater {
		code = exitTransient
	}
	msg := err.Error()
	var pe *probe.ProtocolError
	if errors.As(err, &pe) {
		msg = pe.Check + ": " + pe.Msg
	}
	return withCode(code, fmt.Errorf("could not log in to %s, nothing was saved: %s\n  Cause: %s (%s)", acct.IMAP, msg, d.Title, d.Cause))
}

// probeOptions are the live-check options (tests adjust them via doctorDeps).
func (a *app) probeOptions() probe.Options {
	if a.doctorDeps != nil {
		var d doctor.Deps
		a.doctorDeps(&d)
		return d.Probe
	}
	return probe.Options{}
}
