package cause

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxText is the longest input ParseText reads; the rest is ignored.
const MaxText = 64 << 10

// Explain classifies an error text pasted by a user: a log line, a client
// library's exception, a protocol trace. provider is a provider id or ""
// (then it is guessed from the text). It is Classify(ParseText(text,
// provider), ctx) with ctx's provider and auth method guessed from the text.
func Explain(text, provider string) Diagnosis {
	if len(text) > MaxText {
		text = text[:MaxText]
	}
	ev := ParseText(text, provider)
	n := unescape(text)
	if provider == "" {
		provider = inferProvider(n)
	}
	return Classify(ev, Context{Provider: provider, Auth: inferAuth(strings.ToLower(n))})
}

var (
	reErrField   = lazy(`(?i)["']?\b(?:error|errorcode|error_code)\b["']?\s*[:=]\s*["']([a-z_]{3,40})["']`)
	reDescField  = lazy(`(?is)["']?\b(?:error_?description|errormessage|error_message)\b["']?\s*[:=]\s*["'](.*?)(?:["']\s*(?:[,}\]]|$)|$)`)
	reBase64     = lazy(`[A-Za-z0-9+/_-]{20,}={0,2}`)
	reTagged     = lazy(`(?i)^(?:s:\s*)?[a-z0-9.*]+ (?:no|bad|bye)\b`)
	reSMTPLead   = lazy(`^(?:s:\s*|server -> client:\s*)?([2-5]\d\d)[ -]`)
	reCapability = lazy(`(?:\bauth=[a-z0-9-]+\s*)+|\b250[- ]auth[ =][a-z0-9 -]*`)
	reHTTPErr    = lazy(`(?i)(?:http error|status(?: code)?|code|http/\d(?:\.\d)?)[:= ]+"?([1-5]\d\d)\b`)
)

// ParseText extracts evidence from arbitrary text: OAuth error bodies (JSON,
// possibly escaped or inside a log line or a Python/JS exception), Entra
// AADSTS numbers, IMAP responses and response codes, SMTP replies, base64
// XOAUTH2 failure challenges (decoded) and transport errors. Each piece of
// evidence carries the line or field it came from. When nothing is
// recognised the whole (trimmed) text is returned as one piece, so Classify
// still sees it. It never panics.
func ParseText(s string, provider string) []Evidence {
	if len(s) > MaxText {
		s = s[:MaxText]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	n := unescape(s)
	low := strings.ToLower(n)
	var out []Evidence
	seen := map[string]bool{}
	addEv := func(e Evidence) {
		e.Text = strings.TrimSpace(e.Text)
		k := string(e.Kind) + "\x00" + e.Code + "\x00" + e.Text
		if e.Text == "" && e.Code == "" || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, e)
	}

	lines := splitLines(n)
	oauthLine := make([]bool, len(lines))

	// 1. OAuth: error fields, descriptions, AADSTS numbers.
	nums := aadstsNumbers(n)
	errField := ""
	if m := reErrField.get().FindStringSubmatch(n); m != nil {
		errField = strings.ToLower(m[1])
	}
	bare := ""
	if m := reOAuthError.get().FindStringSubmatch(low); m != nil {
		bare = m[1]
	}
	if len(nums) > 0 || errField != "" || bare != "" {
		e := Evidence{Kind: KindOAuth}
		for _, num := range nums {
			if r, ok := aadstsRules[num]; !ok || !r.weak {
				e.Code = "AADSTS" + strconv.Itoa(num)
				break
			}
		}
		if e.Code == "" && len(nums) > 0 {
			e.Code = "AADSTS" + strconv.Itoa(nums[0])
		}
		if e.Code == "" {
			e.Code = errField
		}
		if e.Code == "" {
			e.Code = bare
		}
		var parts []string
		if errField != "" && errField != strings.ToLower(e.Code) {
			parts = append(parts, errField+":")
		}
		if m := reDescField.get().FindStringSubmatch(n); m != nil && strings.TrimSpace(m[1]) != "" {
			parts = append(parts, cleanDesc(m[1]))
		}
		for i, l := range lines {
			ll := strings.ToLower(l)
			if reAADSTS.get().MatchString(l) || reOAuthError.get().MatchString(ll) || reErrField.get().MatchString(l) ||
				reDescField.get().MatchString(l) || strings.Contains(ll, "error_codes") {
				oauthLine[i] = true
				if len(parts) == 0 || (len(parts) == 1 && strings.HasSuffix(parts[0], ":")) {
					parts = append(parts, cleanDesc(l))
					// Google's error pages put the explanation on the
					// next line ("Error 400: invalid_request\n...").
					if i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" && !reOAuthError.get().MatchString(strings.ToLower(lines[i+1])) {
						parts = append(parts, cleanDesc(lines[i+1]))
					}
				}
			}
		}
		for _, l := range lines {
			// The step the user was at (pasting an authorization code)
			// says what an invalid_grant refers to.
			if reCodeEntry.get().MatchString(strings.ToLower(l)) {
				parts = append(parts, cleanDesc(l))
				break
			}
		}
		if len(parts) > 0 && !strings.Contains(strings.ToLower(strings.Join(parts, " ")), "aadsts") && len(nums) > 0 {
			// Keep every AADSTS number visible to the rules.
			for _, num := range nums {
				parts = append(parts, "AADSTS"+strconv.Itoa(num))
			}
		}
		e.Text = strings.Join(parts, " ")
		if m := reHTTPErr.get().FindStringSubmatch(n); m != nil {
			e.HTTPStatus, _ = strconv.Atoi(m[1])
		}
		addEv(e)
	}

	// 2. XOAUTH2 / OAUTHBEARER failure challenges, encoded or not.
	challengeKind := KindIMAP
	if strings.Contains(low, "334 ") || strings.Contains(low, "smtp") {
		challengeKind = KindSMTP
	}
	for _, c := range challenges(n) {
		addEv(Evidence{Kind: challengeKind, Code: "xoauth2", Text: c})
	}

	// 3. Protocol and transport lines.
	defKind := KindIMAP
	if strings.Contains(low, "smtp") && !strings.Contains(low, "imap") {
		defKind = KindSMTP
	}
	var prev *Evidence
	for i, l := range lines {
		if oauthLine[i] || strings.TrimSpace(l) == "" {
			if prev != nil {
				addLine(prev, provider, addEv)
			}
			prev = nil
			continue
		}
		e := lineEvidence(l, defKind)
		// SMTP multi-line replies: "535-5.7.8 ..." then "535 5.7.8 ...".
		if prev != nil && e.Kind == KindSMTP && prev.Kind == KindSMTP && e.Code != "" && e.Code == prev.Code {
			prev.Text += " " + strings.TrimSpace(l)
			continue
		}
		if prev != nil {
			addLine(prev, provider, addEv)
		}
		ec := e
		prev = &ec
	}
	if prev != nil {
		addLine(prev, provider, addEv)
	}

	if len(out) == 0 {
		t := strings.TrimSpace(n)
		if len(t) > 2000 {
			t = t[:2000]
			t = strings.ToValidUTF8(t, "")
		}
		if t != "" {
			addEv(Evidence{Kind: defKind, Text: t})
		}
	}
	return out
}

// addLine keeps a line's evidence when some rule recognises it.
func addLine(e *Evidence, provider string, addEv func(Evidence)) {
	if len(analyze(newView(*e, provider, ""))) > 0 {
		addEv(*e)
	}
}

// lineEvidence guesses the kind and code of one line of text.
func lineEvidence(l string, defKind Kind) Evidence {
	t := strings.TrimSpace(l)
	low := strings.ToLower(t)
	if tc := transportClass(low); tc != "" {
		return Evidence{Kind: KindTransport, Code: tc, Text: t}
	}
	if m := reSMTPReply.get().FindStringSubmatch(t); m != nil {
		return Evidence{Kind: KindSMTP, Code: m[1] + " " + m[2], Text: t}
	}
	if m := reSMTPLead.get().FindStringSubmatch(t); m != nil {
		return Evidence{Kind: KindSMTP, Code: m[1], Text: t}
	}
	if m := reEnhanced.get().FindStringSubmatch(t); m != nil {
		return Evidence{Kind: KindSMTP, Code: m[1], Text: t}
	}
	code := ""
	for _, m := range reIMAPCode.get().FindAllStringSubmatch(t, -1) {
		if code == "" || code == "ALERT" || code == "WEBALERT" {
			code = m[1]
		}
	}
	if code == "" && strings.Contains(low, "authenticationfailed") {
		code = "AUTHENTICATIONFAILED"
	}
	if code != "" || reTagged.get().MatchString(t) || strings.Contains(low, "imap") {
		return Evidence{Kind: KindIMAP, Code: code, Text: t}
	}
	return Evidence{Kind: defKind, Text: t}
}

// transportClass names a transport failure in a line, or "".
func transportClass(low string) string {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(low, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("first record does not look like a tls handshake", "wrong version number", "wrong_version_number", "unknown protocol", "oversized record"),
		reTLSMismatch.get().MatchString(low):
		return "tls_on_plain_port"
	case has("x509: certificate is valid for", "certificate name does not match", "hostname mismatch", "altname", "subject alternative name"):
		return "x509_hostname"
	case has("certificate has expired", "cert_has_expired", "is not yet valid", "certificate expired"):
		return "x509_expired"
	case has("unknown authority", "self signed", "self-signed", "unable to get local issuer", "certificate verify failed", "unknown ca"):
		return "x509_unknown_authority"
	case has("no such host", "name or service not known", "enotfound", "could not resolve", "nodename nor servname", "temporary failure in name resolution"):
		return "dns"
	case has("lookup ") && has("i/o timeout", "timed out"):
		return "dns_timeout"
	case has("connection refused", "econnrefused", "errno=111", "errno 111", "actively refused"):
		return "refused"
	case has("network is unreachable", "no route to host", "enetunreach", "ehostunreach"):
		return "unreachable"
	case has("greeting never received", "waiting for greeting"):
		return "greeting_timeout"
	case has("connection reset", "econnreset", "broken pipe", "socket hang up", "unexpected eof"):
		return "reset"
	case has("dial tcp", "connect etimedout", "connect timed out") && has("i/o timeout", "timed out", "etimedout"):
		return CodeConnectTimeout
	case has("i/o timeout", "timed out", "etimedout", "deadline exceeded"):
		return CodeTimeout
	}
	return ""
}

// challenges returns the XOAUTH2/OAUTHBEARER failure challenges in s:
// base64 tokens that decode to {"status":...} and plain ones.
func challenges(s string) []string {
	var out []string
	for _, tok := range reBase64.get().FindAllString(s, 64) {
		d, ok := decodeB64(tok)
		if !ok {
			continue
		}
		if reChallenge.get().MatchString(strings.ToLower(d)) {
			out = append(out, strings.TrimSpace(d))
		}
	}
	low := strings.ToLower(s)
	if loc := reChallenge.get().FindStringIndex(low); loc != nil {
		start := strings.LastIndex(s[:loc[0]], "{")
		end := strings.Index(s[loc[0]:], "}")
		if start >= 0 && end >= 0 {
			out = append(out, s[start:loc[0]+end+1])
		}
	}
	return out
}

// decodeB64 decodes standard or URL base64, padded or not, and accepts the
// result only when it is printable UTF-8 text.
func decodeB64(tok string) (string, bool) {
	t := strings.TrimRight(tok, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(t)
		if err != nil || !utf8.Valid(b) {
			continue
		}
		ok := true
		for _, r := range string(b) {
			if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
				ok = false
				break
			}
		}
		if ok {
			return string(b), true
		}
	}
	return "", false
}

// withDecodedChallenges appends the decoded form of any base64 challenge in
// s so the rules see its JSON.
func withDecodedChallenges(s string) string {
	if !strings.Contains(s, "eyJ") {
		return s
	}
	var extra []string
	for _, tok := range reBase64.get().FindAllString(s, 16) {
		if d, ok := decodeB64(tok); ok && strings.Contains(d, "status") {
			extra = append(extra, d)
		}
	}
	if len(extra) == 0 {
		return s
	}
	return s + "\n" + strings.Join(extra, "\n")
}

// unescape undoes the layers of quoting that logs and client libraries put
// around server text: backslash escapes (\n, \", \\, \uXXXX) and a few HTML
// entities, up to four levels deep.
func unescape(s string) string {
	for range 4 {
		if !strings.ContainsAny(s, `\&`) {
			return s
		}
		t := unescapeOnce(s)
		if t == s {
			return s
		}
		s = t
	}
	return s
}

var entities = strings.NewReplacer("&amp;", "&", "&#39;", "'", "&quot;", `"`, "&lt;", "<", "&gt;", ">", "&#x27;", "'")

func unescapeOnce(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch n := s[i+1]; n {
		case 'n':
			b.WriteByte('\n')
			i++
		case 'r':
			i++
		case 't':
			b.WriteByte('\t')
			i++
		case '"', '\'', '/', '\\':
			b.WriteByte(n)
			i++
		case 'u':
			if i+6 <= len(s) {
				if v, err := strconv.ParseUint(s[i+2:i+6], 16, 32); err == nil {
					b.WriteRune(rune(v))
					i += 5
					continue
				}
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return entities.Replace(b.String())
}

func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r", "")
	ls := strings.Split(s, "\n")
	if len(ls) > 2000 {
		ls = ls[:2000]
	}
	return ls
}

// cleanDesc trims an OAuth description: Entra's trace, correlation and
// timestamp trailers are noise.
func cleanDesc(s string) string {
	s = strings.TrimSpace(s)
	for _, cut := range []string{"Trace ID:", "Trace ID :", "\nCorrelation ID:"} {
		if i := strings.Index(s, cut); i > 0 {
			s = s[:i]
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = strings.ToValidUTF8(s[:600], "")
	}
	return strings.TrimRight(s, " ,.") + "."
}

// providerMarks maps text markers to provider ids, most specific first.
var providerMarks = []struct{ id, mark string }{
	{"google", "gsmtp"}, {"google", "googleapis"}, {"google", "accounts.google.com"},
	{"google", "support.google.com"}, {"google", "gmail"}, {"google", "google"},
	{"microsoft", "aadsts"}, {"microsoft", "microsoftonline"}, {"microsoft", "outlook"},
	{"microsoft", "office365"}, {"microsoft", "hotmail"}, {"microsoft", "live.com"},
	{"microsoft", "microsoft"}, {"microsoft", "exchange"},
	{"yahoo", "yahoo"}, {"aol", "aol.com"}, {"icloud", "icloud"}, {"icloud", "mail.me.com"},
	{"icloud", "apple id"}, {"fastmail", "fastmail"}, {"zoho", "zoho"},
	{"gmx", "gmx."}, {"gmx", "web.de"}, {"yandex", "yandex"}, {"proton", "proton"},
}

// inferProvider guesses the provider from markers in the text, or "".
func inferProvider(s string) string {
	low := strings.ToLower(s)
	for _, p := range providerMarks {
		if strings.Contains(low, p.mark) {
			return p.id
		}
	}
	return ""
}

// inferAuth guesses the auth method the failing attempt used: "oauth2"
// when the text shows an OAuth SASL mechanism and no password, "password"
// for the reverse, "" when it shows both or neither.
func inferAuth(low string) string {
	// Capability lists (IMAP "AUTH=XOAUTH2", SMTP "250-AUTH LOGIN PLAIN
	// XOAUTH2") name what the server offers, not what the client used.
	low = reCapability.get().ReplaceAllString(low, " ")
	oauth := strings.Contains(low, "xoauth2") || strings.Contains(low, "oauthbearer") || strings.Contains(low, "oauthlog") ||
		strings.Contains(low, "oauth2") || strings.Contains(low, "bearer") ||
		strings.Contains(low, "accesstoken") || strings.Contains(low, "access token") || strings.Contains(low, "access_token")
	pw := strings.Contains(low, "password") || strings.Contains(low, " login ") || strings.Contains(low, "auth [login]") ||
		strings.Contains(low, " login \"") || strings.Contains(low, "auth login") ||
		strings.Contains(low, "plain")
	switch {
	case oauth && !pw:
		return "oauth2"
	case pw && !oauth:
		return "password"
	}
	return ""
}

// String renders a diagnosis in one line for logs and tests.
func (d Diagnosis) String() string {
	return fmt.Sprintf("%s (%s; candidates %v)", d.Cause, d.Confidence, d.Candidates)
}
