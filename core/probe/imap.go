package probe

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
)

const protoIMAP = "imap"

// maxUntagged bounds the untagged responses kept per command.
const maxUntagged = 1000

// imapResponse is one parsed server response.
type imapResponse struct {
	// Tag is "*" (untagged), "+" (continuation) or a command tag.
	Tag string
	// Status is OK, NO, BAD, BYE or PREAUTH (upper case), or "" for data
	// responses and continuations.
	Status string
	// Code is the bracketed response code's atom, upper case
	// ("AUTHENTICATIONFAILED", "ALERT", "CAPABILITY").
	Code string
	// CodeArgs is the rest of the bracketed code.
	CodeArgs string
	// Text is the human-readable text (for a continuation: its payload).
	Text string
	// Data is an untagged data response after "* " ("CAPABILITY ...",
	// "3 EXISTS").
	Data string
}

var errMalformed = errors.New("malformed response")

// parseIMAPResponse parses one response line (literals already inlined).
func parseIMAPResponse(line string) (imapResponse, error) {
	var r imapResponse
	if line == "" {
		return r, errMalformed
	}
	if line == "+" || strings.HasPrefix(line, "+ ") {
		r.Tag = "+"
		r.Text = strings.TrimPrefix(strings.TrimPrefix(line, "+"), " ")
		return r, nil
	}
	sp := strings.IndexByte(line, ' ')
	if sp <= 0 {
		return r, errMalformed
	}
	r.Tag, line = line[:sp], line[sp+1:]
	word, rest, _ := strings.Cut(line, " ")
	switch st := strings.ToUpper(word); st {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		r.Status = st
	default:
		if r.Tag != "*" {
			return r, errMalformed
		}
		r.Data = line
		return r, nil
	}
	if r.Tag != "*" && (r.Status == "BYE" || r.Status == "PREAUTH") {
		return r, errMalformed
	}
	if strings.HasPrefix(rest, "[") {
		if end := strings.IndexByte(rest, ']'); end > 0 {
			inner := rest[1:end]
			atom, args, _ := strings.Cut(inner, " ")
			r.Code = strings.ToUpper(atom)
			r.CodeArgs = args
			rest = strings.TrimPrefix(rest[end+1:], " ")
		}
	}
	r.Text = rest
	return r, nil
}

// codeOrStatus is the evidence code of a status response.
func (r imapResponse) codeOrStatus() string {
	if r.Code != "" {
		return r.Code
	}
	return r.Status
}

// summary is "[CODE] text" or "text" (raw).
func (r imapResponse) summary() string {
	if r.Code != "" {
		return "[" + r.Code + "] " + r.Text
	}
	return r.Text
}

func (r imapResponse) evidence(check string) cause.Evidence {
	return cause.Evidence{Kind: cause.KindIMAP, Code: r.codeOrStatus(), Text: evidenceText(r.Text), Check: check}
}

// parseCaps splits a capability list into upper-case names.
func parseCaps(s string) map[string]bool {
	caps := map[string]bool{}
	for _, f := range strings.Fields(s) {
		caps[strings.ToUpper(f)] = true
	}
	return caps
}

// literalSuffix reports whether line ends with an IMAP literal announcement
// "{N}" or "{N+}" and returns N.
func literalSuffix(line string) (int, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	num := strings.TrimSuffix(line[open+1:len(line)-1], "+")
	if num == "" || len(num) > 10 {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// readResponse reads one response, inlining literals, bounded by MaxLine.
func (ic *IMAPConn) readResponse() (string, error) {
	line, err := ic.c.readLine()
	if err != nil {
		return "", err
	}
	for {
		n, ok := literalSuffix(line)
		if !ok {
			return line, nil
		}
		if len(line)+n > ic.c.opts.MaxLine {
			return "", errLineTooLong
		}
		lit, err := ic.c.readFull(n)
		if err != nil {
			return "", err
		}
		next, err := ic.c.readLine()
		if err != nil {
			return "", err
		}
		if len(line)+n+len(next) > ic.c.opts.MaxLine {
			return "", errLineTooLong
		}
		line = line + "\r\n" + string(lit) + next
	}
}

// IMAPConn is an IMAP connection in progress, protected by TLS once
// DialIMAP returned. It is not safe for concurrent use.
type IMAPConn struct {
	c       *conn
	ep      account.Endpoint
	opts    Options
	tagN    int
	caps    map[string]bool
	preauth bool
}

// DialIMAP connects to ep, with implicit TLS or STARTTLS as ep.Security
// says, and reads the greeting. It returns the results of the checks it ran
// in order ("tcp", then "tls" and "imap.greeting" in protocol order). On
// error the connection is closed and the error is a *ProtocolError. A
// server that does not offer STARTTLS fails: nothing is sent in plaintext
// but CAPABILITY and STARTTLS.
func DialIMAP(ctx context.Context, ep account.Endpoint, opts Options) (*IMAPConn, []Result, error) {
	o := opts.withDefaults()
	if !ep.Security.Valid() {
		err := &ProtocolError{Protocol: protoIMAP, Check: CheckTCP, Msg: fmt.Sprintf("unknown security mode %q (want tls or starttls)", ep.Security)}
		return nil, nil, err
	}
	c, res, err := dialTCP(ctx, protoIMAP, ep, o)
	results := []Result{res}
	if err != nil {
		return nil, results, err
	}
	ic := &IMAPConn{c: c, ep: ep, opts: o}
	steps := []func(context.Context) (Result, error){ic.readGreeting, ic.starttls}
	if ep.Security == account.TLS {
		steps = []func(context.Context) (Result, error){ic.implicitTLS, ic.readGreeting}
	}
	if results, err = runSteps(ctx, c, results, steps); err != nil {
		return nil, results, err
	}
	return ic, results, nil
}

func (ic *IMAPConn) implicitTLS(ctx context.Context) (Result, error) {
	return ic.c.startTLS(ctx, protoIMAP, ic.ep)
}

func (ic *IMAPConn) fail(check string, start time.Time, msg string, err error, ev ...cause.Evidence) (Result, error) {
	return failed(protoIMAP, check, start, msg, err, ev...)
}

// ioFail reports an I/O error during check, naming what was being waited
// for. A timeout while waiting for a plaintext greeting is checked against
// a TLS handshake on a second connection (plain_on_tls_port).
func (ic *IMAPConn) ioFail(ctx context.Context, check string, start time.Time, what string, err error, seen []imapResponse) (Result, error) {
	ev := transportEvidence(ctx, check, err)
	if ev.Code == CodeTimeout && check == CheckIMAPGreeting && ic.c.tls == nil && probeSpeaksTLS(ctx, ic.ep, ic.opts) {
		ev.Code = CodePlainOnTLSPort
	}
	evs := []cause.Evidence{ev}
	msg := what + ": " + describeCode(ev.Code, err)
	for _, r := range seen {
		if r.Status == "BYE" {
			evs = append([]cause.Evidence{r.evidence(check)}, evs...)
			msg = what + ": server closed the connection: " + r.summary()
		}
	}
	return ic.fail(check, start, msg, err, evs...)
}

func (ic *IMAPConn) readGreeting(ctx context.Context) (Result, error) {
	start := time.Now()
	ic.c.deadline(ctx, ic.opts.Timeouts.Greeting)
	line, err := ic.readResponse()
	if err != nil {
		return ic.ioFail(ctx, CheckIMAPGreeting, start, "waiting for the greeting", err, nil)
	}
	r, err := parseIMAPResponse(line)
	if err != nil || r.Tag != "*" || r.Status == "" {
		ev := cause.Evidence{Kind: cause.KindIMAP, Code: CodeMalformed, Text: evidenceText(line), Check: CheckIMAPGreeting}
		return ic.fail(CheckIMAPGreeting, start, "not an IMAP greeting: "+line, errMalformed, ev)
	}
	if r.Code == "CAPABILITY" {
		ic.caps = parseCaps(r.CodeArgs)
	}
	res := Result{Name: CheckIMAPGreeting, Duration: time.Since(start), Detail: detail(r.Text)}
	switch r.Status {
	case "OK":
		res.Status = OK
		if r.Code == "ALERT" {
			res.Status = Warn
			res.Evidence = []cause.Evidence{r.evidence(CheckIMAPGreeting)}
		}
		return res, nil
	case "PREAUTH":
		if ic.c.tls == nil {
			// Already authenticated in plaintext: STARTTLS is impossible.
			ev := cause.Evidence{Kind: cause.KindIMAP, Code: "PREAUTH", Text: evidenceText(r.Text), Check: CheckIMAPGreeting}
			return ic.fail(CheckIMAPGreeting, start, "server pre-authenticated a plaintext connection: "+r.Text, nil, ev)
		}
		ic.preauth = true
		res.Status = Warn
		res.Evidence = []cause.Evidence{{Kind: cause.KindIMAP, Code: "PREAUTH", Text: evidenceText(r.Text), Check: CheckIMAPGreeting}}
		return res, nil
	default:
		return ic.fail(CheckIMAPGreeting, start, "server refused the connection: "+r.summary(), nil, r.evidence(CheckIMAPGreeting))
	}
}

// starttls learns the capabilities if the greeting did not carry them,
// requires STARTTLS and upgrades the connection (the "tls" check).
func (ic *IMAPConn) starttls(ctx context.Context) (Result, error) {
	start := time.Now()
	if ic.caps == nil {
		if _, err := ic.capability(ctx, CheckTLS); err != nil {
			return resultOf(err, CheckTLS, start), err
		}
	}
	if !ic.caps["STARTTLS"] {
		ev := cause.Evidence{Kind: cause.KindIMAP, Code: CodeNoSTARTTLS, Text: "capabilities: " + capList(ic.caps), Check: CheckTLS}
		return ic.fail(CheckTLS, start, "server does not offer STARTTLS; not continuing without TLS", nil, ev)
	}
	tagged, _, err := ic.run(ctx, ic.opts.Timeouts.Command, CheckTLS, []piece{{text: "STARTTLS"}}, nil)
	if err != nil {
		return resultOf(err, CheckTLS, start), err
	}
	if tagged.Status != "OK" {
		return ic.fail(CheckTLS, start, "STARTTLS refused: "+tagged.summary(), nil, tagged.evidence(CheckTLS))
	}
	res, err := ic.c.startTLS(ctx, protoIMAP, ic.ep)
	res.Duration = time.Since(start)
	// Capabilities learnt before TLS must be discarded (RFC 9051 6.2.1).
	ic.caps = nil
	return res, err
}

// resultOf turns an error from a step function into a failed Result for check.
func resultOf(err error, check string, start time.Time) Result {
	res := Result{Name: check, Status: Fail, Duration: time.Since(start)}
	var pe *ProtocolError
	var ae *AuthError
	switch {
	case errors.As(err, &pe):
		res.Detail, res.Evidence = pe.Msg, pe.Evidence
	case errors.As(err, &ae):
		res.Detail, res.Evidence = ae.Msg, ae.Evidence
	default:
		res.Detail = detail(err.Error())
	}
	return res
}

// piece is part of a command: text, or a literal to send as {N}.
type piece struct {
	text string
	lit  []byte
	isL  bool
}

// astring renders s as an IMAP string: quoted when it is 7-bit text without
// CR, LF or NUL, a literal otherwise.
func astring(s string) piece {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b >= 0x80 || b < 0x20 || b == 0x7f {
			return piece{lit: []byte(s), isL: true}
		}
	}
	return piece{text: `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`}
}

// run sends a command built from pieces and reads until its tagged reply.
// Untagged responses are returned; continuation requests go to cont (nil:
// a continuation is a protocol error). An error is a *ProtocolError.
func (ic *IMAPConn) run(ctx context.Context, timeout time.Duration, check string, cmd []piece, cont func(string) (string, error)) (imapResponse, []imapResponse, error) {
	start := time.Now()
	ic.tagN++
	tag := "m" + strconv.Itoa(ic.tagN)
	ic.c.deadline(ctx, timeout)
	var untagged []imapResponse
	fail := func(what string, err error) (imapResponse, []imapResponse, error) {
		_, perr := ic.ioFail(ctx, check, start, what, err, untagged)
		return imapResponse{}, untagged, perr
	}
	// next reads one response; it returns done when it was the tagged one.
	next := func() (imapResponse, error) {
		line, err := ic.readResponse()
		if err != nil {
			return imapResponse{}, err
		}
		r, err := parseIMAPResponse(line)
		if err != nil {
			return imapResponse{}, fmt.Errorf("%w: %q", errMalformed, detail(line))
		}
		return r, nil
	}
	buf := tag + " "
	for _, p := range cmd {
		if !p.isL {
			buf += p.text
			continue
		}
		if ic.caps["LITERAL+"] {
			buf += "{" + strconv.Itoa(len(p.lit)) + "+}\r\n" + string(p.lit)
			continue
		}
		buf += "{" + strconv.Itoa(len(p.lit)) + "}\r\n"
		if err := ic.c.write(buf); err != nil {
			return fail("sending the command", err)
		}
		buf = ""
		// Wait for the server's go-ahead for a synchronizing literal.
		for {
			r, err := next()
			if err != nil {
				return fail("waiting for a literal continuation", err)
			}
			if r.Tag == "+" {
				break
			}
			if r.Tag == tag {
				return r, untagged, nil
			}
			untagged = append(untagged, r)
		}
		buf = string(p.lit)
	}
	if err := ic.c.write(buf + "\r\n"); err != nil {
		return fail("sending the command", err)
	}
	for {
		r, err := next()
		if err != nil {
			if errors.Is(err, errMalformed) {
				ev := cause.Evidence{Kind: cause.KindIMAP, Code: CodeMalformed, Text: evidenceText(err.Error()), Check: check}
				_, perr := ic.fail(check, start, err.Error(), err, ev)
				return imapResponse{}, untagged, perr
			}
			return fail("waiting for the reply", err)
		}
		switch r.Tag {
		case tag:
			if r.Code == "CAPABILITY" {
				ic.caps = parseCaps(r.CodeArgs)
			}
			return r, untagged, nil
		case "+":
			if cont == nil {
				ev := cause.Evidence{Kind: cause.KindIMAP, Code: CodeMalformed, Text: "unexpected continuation request", Check: check}
				_, perr := ic.fail(check, start, "unexpected continuation request", errMalformed, ev)
				return imapResponse{}, untagged, perr
			}
			reply, err := cont(r.Text)
			if err != nil {
				reply = "*"
			}
			if err := ic.c.write(reply + "\r\n"); err != nil {
				return fail("answering a continuation", err)
			}
		case "*":
			// Keep memory bounded against a flood: the first responses and
			// any BYE are what matters.
			if len(untagged) < maxUntagged || r.Status == "BYE" {
				untagged = append(untagged, r)
			}
			if r.Status == "" && strings.HasPrefix(strings.ToUpper(r.Data), "CAPABILITY ") {
				ic.caps = parseCaps(r.Data[len("CAPABILITY "):])
			}
		default:
			// A response for another tag: not ours, ignore it.
		}
	}
}

// capability runs CAPABILITY and stores the result.
func (ic *IMAPConn) capability(ctx context.Context, check string) (imapResponse, error) {
	tagged, _, err := ic.run(ctx, ic.opts.Timeouts.Command, check, []piece{{text: "CAPABILITY"}}, nil)
	if err != nil {
		return tagged, err
	}
	if tagged.Status != "OK" {
		_, err := ic.fail(check, time.Now(), "CAPABILITY refused: "+tagged.summary(), nil, tagged.evidence(check))
		return tagged, err
	}
	if ic.caps == nil {
		ic.caps = map[string]bool{}
	}
	return tagged, nil
}

// Capabilities returns the server's capabilities as last seen, sorted.
func (ic *IMAPConn) Capabilities() []string {
	out := make([]string, 0, len(ic.caps))
	for c := range ic.caps {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func capList(caps map[string]bool) string {
	out := make([]string, 0, len(caps))
	for c := range caps {
		out = append(out, c)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// authMechs returns the offered SASL mechanisms.
func (ic *IMAPConn) authMechs() map[string]bool {
	m := map[string]bool{}
	for c := range ic.caps {
		if name, ok := strings.CutPrefix(c, "AUTH="); ok {
			m[name] = true
		}
	}
	return m
}

// TLSState returns the connection's TLS state.
func (ic *IMAPConn) TLSState() tls.ConnectionState {
	if ic.c.tls == nil {
		return tls.ConnectionState{}
	}
	return *ic.c.tls
}

// Capability runs the "imap.capability" check over TLS: it asks for the
// capabilities unless the TLS-protected greeting carried them. A
// LOGINDISABLED that persists after TLS is a warning with evidence.
func (ic *IMAPConn) Capability(ctx context.Context) (Result, error) {
	start := time.Now()
	if ic.caps == nil {
		if _, err := ic.capability(ctx, CheckIMAPCapability); err != nil {
			return resultOf(err, CheckIMAPCapability, start), err
		}
	}
	res := Result{Name: CheckIMAPCapability, Status: OK, Duration: time.Since(start)}
	mechs := ic.authMechs()
	names := make([]string, 0, len(mechs))
	for m := range mechs {
		names = append(names, m)
	}
	sort.Strings(names)
	res.Detail = detail("authentication: " + strings.Join(names, " "))
	if len(names) == 0 {
		res.Detail = "no SASL mechanisms offered"
	}
	if ic.caps["LOGINDISABLED"] {
		res.Status = Warn
		res.Detail = detail("LOGINDISABLED even over TLS; " + res.Detail)
		res.Evidence = []cause.Evidence{{Kind: cause.KindIMAP, Code: CodeLoginDisabled, Text: "capabilities: " + evidenceText(capList(ic.caps)), Check: CheckIMAPCapability}}
	}
	return res, nil
}

// Login runs the "imap.auth" check: IMAP LOGIN or AUTHENTICATE PLAIN for a
// password, AUTHENTICATE XOAUTH2 or OAUTHBEARER for an access token
// (with SASL-IR when offered). A refusal is an *AuthError carrying the
// tagged response code and text, any [ALERT], and the decoded OAuth error
// challenge; other failures are *ProtocolError.
func (ic *IMAPConn) Login(ctx context.Context, user string, cred Credential) (Result, error) {
	start := time.Now()
	if ic.preauth {
		return Result{Name: CheckIMAPAuth, Status: Warn, Duration: time.Since(start), Detail: "server pre-authenticated the connection"}, nil
	}
	if ic.caps == nil {
		if _, err := ic.capability(ctx, CheckIMAPAuth); err != nil {
			return resultOf(err, CheckIMAPAuth, start), err
		}
	}
	loginOK := !ic.caps["LOGINDISABLED"] && !cred.IsToken()
	mechs := ic.authMechs()
	mech := chooseMech(mechs, cred, ic.opts.Mechanism, loginOK)
	if mech == "" {
		code := CodeNoMechanism
		if !cred.IsToken() && ic.caps["LOGINDISABLED"] {
			code = CodeLoginDisabled
		}
		ev := cause.Evidence{Kind: cause.KindIMAP, Code: code, Text: "capabilities: " + evidenceText(capList(ic.caps)), Check: CheckIMAPAuth}
		what := "password"
		if cred.IsToken() {
			what = "OAuth"
		}
		return ic.fail(CheckIMAPAuth, start, "server offers no "+what+" login method (capabilities: "+capList(ic.caps)+")", nil, ev)
	}

	var cmd []piece
	var cont func(string) (string, error)
	var challenge string
	if mech == MechLogin && loginOK {
		cmd = []piece{{text: "LOGIN "}, astring(user), {text: " "}, astring(cred.Password)}
	} else {
		ir := saslInitial(mech, user, cred, ic.ep)
		rounds := 0
		sentIR := false
		var loginSteps []string
		if mech == MechLogin {
			// SASL LOGIN: the server asks for the user name, then the password.
			ir = nil
			loginSteps = []string{user, cred.Password}
		}
		cmd = []piece{{text: "AUTHENTICATE " + mech}}
		if ir != nil && ic.caps["SASL-IR"] {
			cmd = append(cmd, piece{text: " " + base64.StdEncoding.EncodeToString(ir)})
			sentIR = true
		}
		cont = func(text string) (string, error) {
			rounds++
			if rounds > 4 {
				return "", errors.New("too many SASL rounds")
			}
			if len(loginSteps) > 0 {
				s := loginSteps[0]
				loginSteps = loginSteps[1:]
				return base64.StdEncoding.EncodeToString([]byte(s)), nil
			}
			if !sentIR && ir != nil {
				sentIR = true
				return base64.StdEncoding.EncodeToString(ir), nil
			}
			if c := decodeChallenge(text); c != "" {
				challenge = c
			}
			return saslFailureReply(mech), nil
		}
	}
	tagged, untagged, err := ic.run(ctx, ic.opts.Timeouts.Auth, CheckIMAPAuth, cmd, cont)
	if err != nil {
		return resultOf(err, CheckIMAPAuth, start), err
	}
	res := Result{Name: CheckIMAPAuth, Duration: time.Since(start)}
	if tagged.Status == "OK" {
		res.Status = OK
		res.Detail = detail(fmt.Sprintf("logged in as %s (%s)", user, mech))
		return res, nil
	}
	evs := []cause.Evidence{tagged.evidence(CheckIMAPAuth)}
	msg := tagged.summary()
	for _, u := range untagged {
		if u.Code != "" && u.Code != "CAPABILITY" || u.Status == "BYE" {
			evs = append(evs, u.evidence(CheckIMAPAuth))
			msg += " (" + u.summary() + ")"
		}
	}
	if challenge != "" {
		evs = append(evs, cause.Evidence{Kind: cause.KindIMAP, Code: CodeSASLChallenge, Text: evidenceText(challenge), Check: CheckIMAPAuth})
		msg += " (challenge: " + challenge + ")"
	}
	msg = detail(msg)
	res.Status, res.Detail, res.Evidence = Fail, msg, evs
	if tagged.Status == "BAD" {
		return res, &ProtocolError{Protocol: protoIMAP, Check: CheckIMAPAuth, Msg: "login rejected as bad command: " + msg, Evidence: evs}
	}
	return res, &AuthError{Protocol: protoIMAP, Check: CheckIMAPAuth, Msg: msg, Evidence: evs}
}

// Select runs the "imap.select" check: it opens mailbox (read-write, as a
// mail program would) and reports its message count.
func (ic *IMAPConn) Select(ctx context.Context, mailbox string) (Result, error) {
	start := time.Now()
	tagged, untagged, err := ic.run(ctx, ic.opts.Timeouts.Command, CheckIMAPSelect, []piece{{text: "SELECT "}, astring(mailbox)}, nil)
	if err != nil {
		return resultOf(err, CheckIMAPSelect, start), err
	}
	if tagged.Status != "OK" {
		return ic.fail(CheckIMAPSelect, start, "cannot open "+mailbox+": "+tagged.summary(), nil, tagged.evidence(CheckIMAPSelect))
	}
	exists := -1
	for _, u := range untagged {
		if n, word, ok := strings.Cut(u.Data, " "); ok && strings.EqualFold(word, "EXISTS") {
			if v, err := strconv.Atoi(n); err == nil {
				exists = v
			}
		}
	}
	d := mailbox + " opened"
	if exists >= 0 {
		d = fmt.Sprintf("%s opened: %d messages", mailbox, exists)
	}
	if tagged.Code != "" {
		d += " (" + tagged.Code + ")"
	}
	return Result{Name: CheckIMAPSelect, Status: OK, Duration: time.Since(start), Detail: detail(d)}, nil
}

// Logout says goodbye (bounded by a short timeout) and closes the
// connection. Errors while saying goodbye are ignored.
func (ic *IMAPConn) Logout(ctx context.Context) error {
	timeout := ic.opts.Timeouts.Command
	if timeout > 3*time.Second {
		timeout = 3 * time.Second
	}
	_, _, _ = ic.run(ctx, timeout, "imap.logout", []piece{{text: "LOGOUT"}}, nil)
	return ic.Close()
}

// Close closes the connection without LOGOUT.
func (ic *IMAPConn) Close() error { return ic.c.Close() }

// imapChecks is every check IMAPLogin reports, in order.
var imapChecks = []string{CheckTCP, CheckTLS, CheckIMAPGreeting, CheckIMAPCapability, CheckIMAPAuth, CheckIMAPSelect}

// IMAPLogin runs every IMAP check against ep in order (tcp, tls,
// imap.greeting, imap.capability, imap.auth, imap.select INBOX) and logs
// out. It returns one Result per check; checks after a failure are Skip.
// The error is nil when every check passed (warnings included), an
// *AuthError when the server refused the credential, and a *ProtocolError
// otherwise.
func IMAPLogin(ctx context.Context, ep account.Endpoint, user string, cred Credential, opts Options) ([]Result, error) {
	ic, results, err := DialIMAP(ctx, ep, opts)
	if err != nil {
		return fillSkipped(results, imapChecks), err
	}
	defer ic.Close()
	for _, step := range []func() (Result, error){
		func() (Result, error) { return ic.Capability(ctx) },
		func() (Result, error) { return ic.Login(ctx, user, cred) },
		func() (Result, error) { return ic.Select(ctx, "INBOX") },
	} {
		res, err := step()
		results = append(results, res)
		if err != nil {
			return fillSkipped(results, imapChecks), err
		}
	}
	_ = ic.Logout(ctx)
	return results, nil
}

// fillSkipped appends a Skip result for every name in all that results
// lacks.
func fillSkipped(results []Result, all []string) []Result {
	have := map[string]bool{}
	for _, r := range results {
		have[r.Name] = true
	}
	for _, n := range all {
		if !have[n] {
			results = append(results, skipped("not run: an earlier check failed", n)...)
		}
	}
	return results
}
