package doctor

import (
	"context"
	"errors"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/probe"
)

// imapChecks are the IMAP checks in order; those not reached are Skip.
var imapChecks = []string{probe.CheckTCP, probe.CheckTLS, probe.CheckIMAPGreeting, probe.CheckIMAPCapability, probe.CheckIMAPAuth, probe.CheckIMAPSelect}

// skipRest reports every check in names that has not run as Skip.
func skipRest(r *run, ran map[string]bool, names []string, why string) {
	var out []probe.Result
	for _, n := range names {
		if !ran[n] {
			out = append(out, probe.Result{Name: n, Status: probe.Skip, Detail: why})
		}
	}
	r.finished(out...)
}

// imap runs the IMAP chain: connect, TLS and greeting, capability, then the
// login as soon as the credential is there, then SELECT INBOX. It reports
// on authDone whether the login was accepted (false also when it never
// ran), exactly once, as soon as the login's verdict is known: SMTP's login
// waits for it, not for SELECT and LOGOUT.
func (doc *Doctor) imap(ctx context.Context, r *run, a account.Account, creds <-chan credential, authDone chan<- bool) {
	ran := map[string]bool{}
	signalled := false
	signal := func(accepted bool) {
		if !signalled {
			signalled = true
			authDone <- accepted
		}
	}
	defer signal(false)
	report := func(res ...probe.Result) {
		for _, x := range res {
			ran[x.Name] = true
		}
		r.finished(res...)
	}
	r.started(probe.CheckTCP)
	ic, res, err := probe.DialIMAP(ctx, a.IMAP, doc.d.Probe)
	report(res...)
	if err != nil {
		skipRest(r, ran, imapChecks, "not reached: the connection failed")
		return
	}
	defer ic.Close()
	r.started(probe.CheckIMAPCapability)
	capRes, err := ic.Capability(ctx)
	report(capRes)
	if err != nil {
		skipRest(r, ran, imapChecks, "not reached: CAPABILITY failed")
		return
	}
	var c credential
	select {
	case c = <-creds:
	case <-ctx.Done():
		skipRest(r, ran, imapChecks, "cancelled")
		return
	}
	if c.err != nil {
		skipRest(r, ran, imapChecks, "not tried: "+oneLine(c.err.Error()))
		return
	}
	if res, ok := doc.allowLogin(a, probe.CheckIMAPAuth); !ok {
		report(res)
		skipRest(r, ran, imapChecks, "not reached: login held back")
		return
	}
	r.started(probe.CheckIMAPAuth)
	res1, err := ic.Login(ctx, a.Login(), c.cred)
	doc.loginDone(a, err)
	report(res1)
	var ae *probe.AuthError
	if errors.As(err, &ae) && c.cred.IsToken() && !c.refreshed {
		// A token that had not expired was refused: ask the provider once.
		// A dead grant shows in the refresh; a new token gets one more try.
		if nc, ok := doc.refreshRefused(ctx, r, a, c.cred.AccessToken); ok && nc.refreshed {
			r.setCred(nc)
			if res, allowed := doc.allowLogin(a, probe.CheckIMAPAuth); !allowed {
				r.replace(res)
			} else {
				res1, err = ic.Login(ctx, a.Login(), nc.cred)
				doc.loginDone(a, err)
				r.replace(res1)
			}
		}
	}
	signal(err == nil)
	if err != nil {
		skipRest(r, ran, imapChecks, "not reached: the login failed")
		return
	}
	r.started(probe.CheckIMAPSelect)
	res2, err := ic.Select(ctx, "INBOX")
	report(res2)
	if err == nil {
		_ = ic.Logout(ctx)
	}
}

// smtpChecks are the SMTP checks as the doctor names them.
var smtpChecks = []string{CheckSMTPTCP, CheckSMTPTLS, probe.CheckSMTPGreeting, probe.CheckSMTPStartTLS, probe.CheckSMTPAuth}

// smtpName renames probe's transport checks for the SMTP connection.
func smtpName(res probe.Result) probe.Result {
	switch res.Name {
	case probe.CheckTCP:
		res.Name = CheckSMTPTCP
	case probe.CheckTLS:
		res.Name = CheckSMTPTLS
	}
	return res
}

// smtp runs the SMTP chain: connect, TLS, greeting, STARTTLS, then the
// login once the credential is there and IMAP's login answered. When IMAP
// refused the same credential the SMTP login is not tried: it would only
// count toward a lockout.
func (doc *Doctor) smtp(ctx context.Context, r *run, a account.Account, creds <-chan credential, imapAuth <-chan bool) {
	ran := map[string]bool{}
	report := func(res ...probe.Result) {
		for i := range res {
			res[i] = smtpName(res[i])
			ran[res[i].Name] = true
		}
		r.finished(res...)
	}
	r.started(CheckSMTPTCP)
	sc, res, err := probe.DialSMTP(ctx, a.SMTP, doc.d.Probe)
	report(res...)
	if a.SMTP.Security == account.TLS {
		ran[probe.CheckSMTPStartTLS] = true // not part of an implicit-TLS session
	}
	if err != nil {
		skipRest(r, ran, smtpChecks, "not reached: the connection failed")
		return
	}
	defer sc.Close()
	var c credential
	select {
	case c = <-creds:
	case <-ctx.Done():
		skipRest(r, ran, smtpChecks, "cancelled")
		return
	}
	if c.err != nil {
		skipRest(r, ran, smtpChecks, "not tried: "+oneLine(c.err.Error()))
		return
	}
	select {
	case ok := <-imapAuth:
		if !ok && r.imapRefused() {
			skipRest(r, ran, smtpChecks, "not tried: IMAP refused the same credential")
			return
		}
	case <-ctx.Done():
		skipRest(r, ran, smtpChecks, "cancelled")
		return
	}
	// IMAP's login may have replaced a refused token.
	c = r.currentCred()
	if res, ok := doc.allowLogin(a, probe.CheckSMTPAuth); !ok {
		report(res)
		return
	}
	r.started(probe.CheckSMTPAuth)
	res1, err := sc.Login(ctx, a.Login(), c.cred)
	doc.loginDone(a, err)
	report(res1)
	if err == nil {
		_ = sc.Quit(ctx)
	}
}
