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

const protoSMTP = "smtp"

// maxReplyLines bounds the lines of one multi-line SMTP reply.
const maxReplyLines = 512

// smtpReply is one (possibly multi-line) SMTP reply.
type smtpReply struct {
	// Code is the three-digit reply code.
	Code int
	// Enhanced is the RFC 3463 enhanced status code ("5.7.8") of the first
	// line that has one, or "".
	Enhanced string
	// Lines are the texts after "NNN-"/"NNN ", without the enhanced code.
	Lines []string
}

// Text joins the reply's lines with spaces.
func (r smtpReply) Text() string { return strings.Join(r.Lines, " ") }

// CodeString is "535 5.7.8" or "535".
func (r smtpReply) CodeString() string {
	if r.Enhanced != "" {
		return strconv.Itoa(r.Code) + " " + r.Enhanced
	}
	return strconv.Itoa(r.Code)
}

func (r smtpReply) summary() string { return r.CodeString() + " " + r.Text() }

func (r smtpReply) evidence(check string) cause.Evidence {
	return cause.Evidence{Kind: cause.KindSMTP, Code: r.CodeString(), Text: evidenceText(r.Text()), Check: check}
}

// parseReplyLine splits "250-text" into code, continuation flag and text.
func parseReplyLine(line string) (code int, more bool, text string, err error) {
	if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) || line[0] < '2' || line[0] > '5' {
		return 0, false, "", errMalformed
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	switch {
	case len(line) == 3:
		return code, false, "", nil
	case line[3] == '-':
		return code, true, line[4:], nil
	case line[3] == ' ':
		return code, false, line[4:], nil
	}
	return 0, false, "", errMalformed
}

// splitEnhanced removes a leading enhanced status code ("5.7.8 ") whose
// class matches the reply code's first digit.
func splitEnhanced(code int, text string) (string, string) {
	word, rest, _ := strings.Cut(text, " ")
	parts := strings.Split(word, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || int(parts[0][0]-'0') != code/100 {
		return "", text
	}
	for _, p := range parts {
		if len(p) == 0 || len(p) > 3 {
			return "", text
		}
		for i := 0; i < len(p); i++ {
			if !isDigit(p[i]) {
				return "", text
			}
		}
	}
	return word, rest
}

// readSMTPReply reads one reply with readLine, bounded in lines.
func readSMTPReply(readLine func() (string, error)) (smtpReply, error) {
	var r smtpReply
	for i := 0; ; i++ {
		if i >= maxReplyLines {
			return r, errTooMuchData
		}
		line, err := readLine()
		if err != nil {
			return r, err
		}
		code, more, text, err := parseReplyLine(line)
		if err != nil {
			return r, fmt.Errorf("%w: %q", errMalformed, detail(line))
		}
		if i == 0 {
			r.Code = code
		} else if code != r.Code {
			return r, fmt.Errorf("%w: reply code changed from %d to %d", errMalformed, r.Code, code)
		}
		// Servers repeat the enhanced code on every line; keep the first
		// one and strip it wherever it repeats.
		if enh, rest := splitEnhanced(code, text); enh != "" && (r.Enhanced == "" || enh == r.Enhanced) {
			r.Enhanced, text = enh, rest
		}
		r.Lines = append(r.Lines, text)
		if !more {
			return r, nil
		}
	}
}

// SMTPConn is an SMTP submission connection in progress, protected by TLS
// once DialSMTP returned. It is not safe for concurrent use.
type SMTPConn struct {
	c    *conn
	ep   account.Endpoint
	opts Options
	ext  map[string]string // EHLO keyword (upper case) -> parameters
}

// DialSMTP connects to ep with implicit TLS or STARTTLS, reads the
// greeting and says EHLO (again after STARTTLS). It reports "tcp", "tls",
// "smtp.greeting" and, for STARTTLS, "smtp.starttls", in protocol order.
// On error the connection is closed and the error is a *ProtocolError. A
// server that does not offer STARTTLS fails.
func DialSMTP(ctx context.Context, ep account.Endpoint, opts Options) (*SMTPConn, []Result, error) {
	o := opts.withDefaults()
	if !ep.Security.Valid() {
		return nil, nil, &ProtocolError{Protocol: protoSMTP, Check: CheckTCP, Msg: fmt.Sprintf("unknown security mode %q (want tls or starttls)", ep.Security)}
	}
	c, res, err := dialTCP(ctx, protoSMTP, ep, o)
	results := []Result{res}
	if err != nil {
		return nil, results, err
	}
	sc := &SMTPConn{c: c, ep: ep, opts: o}
	var steps []func(context.Context) (Result, error)
	if ep.Security == account.TLS {
		steps = []func(context.Context) (Result, error){sc.implicitTLS, sc.greeting}
	} else {
		steps = []func(context.Context) (Result, error){sc.greeting, sc.starttls, sc.implicitTLS}
	}
	if results, err = runSteps(ctx, c, results, steps); err != nil {
		return nil, results, err
	}
	// EHLO over TLS: its extensions are the ones that count.
	start := time.Now()
	if err := sc.ehlo(ctx); err != nil {
		c.Close()
		r := resultOf(err, CheckSMTPGreeting, start)
		results = append(results, r)
		return nil, results, err
	}
	return sc, results, nil
}

func (sc *SMTPConn) implicitTLS(ctx context.Context) (Result, error) {
	return sc.c.startTLS(ctx, protoSMTP, sc.ep)
}

func (sc *SMTPConn) fail(check string, start time.Time, msg string, err error, ev ...cause.Evidence) (Result, error) {
	return failed(protoSMTP, check, start, msg, err, ev...)
}

// reply reads one reply within timeout and turns I/O trouble into a
// *ProtocolError for check.
func (sc *SMTPConn) reply(ctx context.Context, check, what string, start time.Time) (smtpReply, error) {
	r, err := readSMTPReply(sc.c.readLine)
	if err == nil {
		return r, nil
	}
	if errors.Is(err, errMalformed) {
		ev := cause.Evidence{Kind: cause.KindSMTP, Code: CodeMalformed, Text: evidenceText(err.Error()), Check: check}
		_, perr := sc.fail(check, start, what+": "+err.Error(), err, ev)
		return r, perr
	}
	ev := transportEvidence(ctx, check, err)
	if ev.Code == CodeTimeout && check == CheckSMTPGreeting && sc.c.tls == nil && probeSpeaksTLS(ctx, sc.ep, sc.opts) {
		ev.Code = CodePlainOnTLSPort
	}
	_, perr := sc.fail(check, start, what+": "+describeCode(ev.Code, err), err, ev)
	return r, perr
}

// cmd sends line and reads the reply.
func (sc *SMTPConn) cmd(ctx context.Context, check, line string, timeout time.Duration, start time.Time) (smtpReply, error) {
	sc.c.deadline(ctx, timeout)
	if err := sc.c.write(line + "\r\n"); err != nil {
		ev := transportEvidence(ctx, check, err)
		_, perr := sc.fail(check, start, "sending a command: "+describeCode(ev.Code, err), err, ev)
		return smtpReply{}, perr
	}
	return sc.reply(ctx, check, "waiting for the reply", start)
}

func (sc *SMTPConn) greeting(ctx context.Context) (Result, error) {
	start := time.Now()
	sc.c.deadline(ctx, sc.opts.Timeouts.Greeting)
	r, err := sc.reply(ctx, CheckSMTPGreeting, "waiting for the greeting", start)
	if err != nil {
		return resultOf(err, CheckSMTPGreeting, start), err
	}
	if r.Code != 220 {
		return sc.fail(CheckSMTPGreeting, start, "server refused the connection: "+r.summary(), nil, r.evidence(CheckSMTPGreeting))
	}
	return Result{Name: CheckSMTPGreeting, Status: OK, Duration: time.Since(start), Detail: detail(r.Text())}, nil
}

// ehlo sends EHLO and records the extensions.
func (sc *SMTPConn) ehlo(ctx context.Context) error {
	start := time.Now()
	r, err := sc.cmd(ctx, CheckSMTPGreeting, "EHLO "+ehloName(sc.c.tcp.LocalAddr()), sc.opts.Timeouts.Command, start)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		_, err := sc.fail(CheckSMTPGreeting, start, "EHLO refused: "+r.summary(), nil, r.evidence(CheckSMTPGreeting))
		return err
	}
	sc.ext = parseEHLO(r)
	return nil
}

// parseEHLO maps the EHLO keywords (upper case) to their parameters. The
// first line is the server's name, not an extension.
func parseEHLO(r smtpReply) map[string]string {
	ext := map[string]string{}
	for i, l := range r.Lines {
		if i == 0 || strings.TrimSpace(l) == "" {
			continue
		}
		kw, params, _ := strings.Cut(strings.TrimSpace(l), " ")
		kw = strings.ToUpper(kw)
		// Old servers announce "AUTH=PLAIN LOGIN".
		if rest, ok := strings.CutPrefix(kw, "AUTH="); ok {
			kw, params = "AUTH", strings.TrimSpace(rest+" "+params)
		}
		if old, ok := ext[kw]; ok && params != "" {
			params = strings.TrimSpace(old + " " + params)
		}
		ext[kw] = params
	}
	return ext
}

// starttls runs the "smtp.starttls" check: EHLO, require STARTTLS, send
// it. The handshake itself is the following "tls" check.
func (sc *SMTPConn) starttls(ctx context.Context) (Result, error) {
	start := time.Now()
	if err := sc.ehlo(ctx); err != nil {
		return resultOf(err, CheckSMTPStartTLS, start), err
	}
	if _, ok := sc.ext["STARTTLS"]; !ok {
		ev := cause.Evidence{Kind: cause.KindSMTP, Code: CodeNoSTARTTLS, Text: "extensions: " + evidenceText(extList(sc.ext)), Check: CheckSMTPStartTLS}
		return sc.fail(CheckSMTPStartTLS, start, "server does not offer STARTTLS; not continuing without TLS", nil, ev)
	}
	r, err := sc.cmd(ctx, CheckSMTPStartTLS, "STARTTLS", sc.opts.Timeouts.Command, start)
	if err != nil {
		return resultOf(err, CheckSMTPStartTLS, start), err
	}
	if r.Code != 220 {
		return sc.fail(CheckSMTPStartTLS, start, "STARTTLS refused: "+r.summary(), nil, r.evidence(CheckSMTPStartTLS))
	}
	sc.ext = nil
	return Result{Name: CheckSMTPStartTLS, Status: OK, Duration: time.Since(start), Detail: detail("STARTTLS accepted: " + r.Text())}, nil
}

func extList(ext map[string]string) string {
	out := make([]string, 0, len(ext))
	for k, v := range ext {
		out = append(out, strings.TrimSpace(k+" "+v))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// Extensions returns the EHLO extensions seen over TLS, keyword (upper
// case) to parameters.
func (sc *SMTPConn) Extensions() map[string]string {
	out := make(map[string]string, len(sc.ext))
	for k, v := range sc.ext {
		out[k] = v
	}
	return out
}

// TLSState returns the connection's TLS state.
func (sc *SMTPConn) TLSState() tls.ConnectionState {
	if sc.c.tls == nil {
		return tls.ConnectionState{}
	}
	return *sc.c.tls
}

// Login runs the "smtp.auth" check: AUTH PLAIN or LOGIN for a password,
// XOAUTH2 or OAUTHBEARER for an access token. A 5xx refusal is an
// *AuthError with the reply code and enhanced code ("535 5.7.8") and the
// decoded OAuth error challenge as evidence; anything else (4xx, broken
// replies, I/O) is a *ProtocolError.
func (sc *SMTPConn) Login(ctx context.Context, user string, cred Credential) (Result, error) {
	start := time.Now()
	mechs := map[string]bool{}
	for _, m := range strings.Fields(sc.ext["AUTH"]) {
		mechs[strings.ToUpper(m)] = true
	}
	mech := chooseMech(mechs, cred, sc.opts.Mechanism, false)
	if mech == "" {
		what := "password"
		if cred.IsToken() {
			what = "OAuth"
		}
		ev := cause.Evidence{Kind: cause.KindSMTP, Code: CodeNoMechanism, Text: "AUTH " + evidenceText(sc.ext["AUTH"]), Check: CheckSMTPAuth}
		return sc.fail(CheckSMTPAuth, start, "server offers no "+what+" login method (AUTH "+sc.ext["AUTH"]+")", nil, ev)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	var line string
	var steps []string // answers to 334 prompts, in order
	if mech == MechLogin {
		line = "AUTH LOGIN"
		steps = []string{b64(user), b64(cred.Password)}
	} else {
		line = "AUTH " + mech + " " + base64.StdEncoding.EncodeToString(saslInitial(mech, user, cred, sc.ep))
	}
	deadline := time.Now().Add(sc.opts.Timeouts.Auth)
	var challenge string
	r, err := sc.cmd(ctx, CheckSMTPAuth, line, time.Until(deadline), start)
	for rounds := 0; err == nil && r.Code == 334; rounds++ {
		answer := "*"
		switch {
		case rounds >= 4:
		case len(steps) > 0:
			answer, steps = steps[0], steps[1:]
		default:
			if c := decodeChallenge(r.Text()); c != "" {
				challenge = c
			}
			answer = saslFailureReply(mech)
		}
		r, err = sc.cmd(ctx, CheckSMTPAuth, answer, time.Until(deadline), start)
	}
	if err != nil {
		return resultOf(err, CheckSMTPAuth, start), err
	}
	res := Result{Name: CheckSMTPAuth, Duration: time.Since(start)}
	if r.Code == 235 {
		res.Status, res.Detail = OK, detail(fmt.Sprintf("logged in as %s (%s)", user, mech))
		return res, nil
	}
	evs := []cause.Evidence{r.evidence(CheckSMTPAuth)}
	msg := r.summary()
	if challenge != "" {
		evs = append(evs, cause.Evidence{Kind: cause.KindSMTP, Code: CodeSASLChallenge, Text: evidenceText(challenge), Check: CheckSMTPAuth})
		msg += " (challenge: " + challenge + ")"
	}
	msg = detail(msg)
	res.Status, res.Detail, res.Evidence = Fail, msg, evs
	if r.Code >= 500 {
		return res, &AuthError{Protocol: protoSMTP, Check: CheckSMTPAuth, Msg: msg, Evidence: evs}
	}
	return res, &ProtocolError{Protocol: protoSMTP, Check: CheckSMTPAuth, Msg: msg, Evidence: evs}
}

// Quit says QUIT (bounded by a short timeout) and closes the connection.
// Errors while saying goodbye are ignored.
func (sc *SMTPConn) Quit(ctx context.Context) error {
	timeout := sc.opts.Timeouts.Command
	if timeout > 3*time.Second {
		timeout = 3 * time.Second
	}
	_, _ = sc.cmd(ctx, "smtp.quit", "QUIT", timeout, time.Now())
	return sc.Close()
}

// Close closes the connection without QUIT.
func (sc *SMTPConn) Close() error { return sc.c.Close() }

// smtpChecks is every check SMTPLogin reports for each security mode.
var (
	smtpChecksTLS      = []string{CheckTCP, CheckTLS, CheckSMTPGreeting, CheckSMTPAuth}
	smtpChecksStartTLS = []string{CheckTCP, CheckSMTPGreeting, CheckSMTPStartTLS, CheckTLS, CheckSMTPAuth}
)

// SMTPLogin runs every SMTP check against ep in order (tcp, tls or
// smtp.greeting + smtp.starttls + tls, smtp.auth) and quits; no mail is
// sent. It returns one Result per check; checks after a failure are Skip.
// The error is nil when every check passed, an *AuthError when the server
// refused the credential, and a *ProtocolError otherwise.
func SMTPLogin(ctx context.Context, ep account.Endpoint, user string, cred Credential, opts Options) ([]Result, error) {
	all := smtpChecksTLS
	if ep.Security == account.StartTLS {
		all = smtpChecksStartTLS
	}
	sc, results, err := DialSMTP(ctx, ep, opts)
	if err != nil {
		return fillSkipped(results, all), err
	}
	defer sc.Close()
	res, err := sc.Login(ctx, user, cred)
	results = append(results, res)
	if err != nil {
		return fillSkipped(results, all), err
	}
	_ = sc.Quit(ctx)
	return results, nil
}
