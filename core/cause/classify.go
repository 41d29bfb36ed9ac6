package cause

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Confidence says how sure a diagnosis is.
type Confidence string

// The confidence levels.
const (
	// ConfidenceHigh: a code or phrase names the cause and nothing else
	// is plausible.
	ConfidenceHigh Confidence = "high"
	// ConfidenceMedium: the evidence points at the cause, but other causes
	// (the candidates) remain possible.
	ConfidenceMedium Confidence = "medium"
	// ConfidenceLow: a guess from weak hints, or nothing recognised.
	ConfidenceLow Confidence = "low"
)

// Diagnosis is Classify's verdict.
type Diagnosis struct {
	// Cause is the best guess; Unknown when nothing matched.
	Cause ID `json:"cause"`
	// Title is Info(Cause).Title.
	Title string `json:"title"`
	// Candidates are the other plausible causes, most likely first. It
	// never contains Cause, has no duplicates and is never nil.
	Candidates []ID `json:"candidates"`
	// Retry is Info(Cause).Retry.
	Retry Retry `json:"retry"`
	// Evidence is the evidence that decided it (for Unknown: all of it).
	// It is never nil.
	Evidence []Evidence `json:"evidence"`
	// Confidence grades the verdict; Certain is Confidence == high.
	Confidence Confidence `json:"confidence"`
	Certain    bool       `json:"certain"`
}

// Clock and consent-age thresholds.
const (
	// ClockTolerance is the largest clock offset that is not reported:
	// identity providers accept about five minutes of skew.
	ClockTolerance = 5 * time.Minute
	// testingMin and testingMax bracket the 7-day lifetime of refresh
	// tokens issued by a Google OAuth client in "Testing".
	testingMin = 156 * time.Hour // 6.5 days
	testingMax = 8 * 24 * time.Hour
	// disuseAge: Google and Microsoft drop refresh tokens unused for about
	// six months and 90 days; past this age expiry is the likeliest reading.
	disuseAge = 90 * 24 * time.Hour
)

// Classify names the cause of a failure from the evidence and the account
// context. It never panics; the result always carries a catalog id.
// Codes (AADSTS numbers, IMAP response codes, SMTP enhanced codes, OAuth
// error fields, transport classes) decide over loose wording; a measured
// clock offset beyond ClockTolerance decides over everything except plain
// reachability failures; the consent age re-orders ambiguous dead-grant
// verdicts (a Google grant that died about 7 days after consent points at
// an OAuth client in "Testing").
func Classify(ev []Evidence, ctx Context) Diagnosis {
	provider := ctx.Provider
	if provider == "" {
		provider = inferProvider(joinEvidence(ev))
	}
	var sigs []signal
	for i, e := range ev {
		v := newView(e, provider, ctx.Auth)
		v.appPassword = ctx.AppPassword
		for _, s := range analyze(v) {
			s.ev = i
			sigs = append(sigs, s)
		}
	}

	if ctx.SettingsWorked {
		// Settings that worked before: a server that stopped answering is
		// down, not misconfigured.
		for i := range sigs {
			if sigs[i].network && sigs[i].cause == WrongSettings {
				sigs[i].cause = ProviderUnavailable
				sigs[i].alts = []ID{WrongSettings}
			}
		}
	}

	evidence := append([]Evidence(nil), ev...)
	if ctx.ClockMeasured && abs(ctx.ClockOffset) > ClockTolerance {
		s := sig(ClockSkew, measured)
		if len(sigs) > 0 && allNetwork(sigs) {
			s.strength = weak
		}
		s.ev = len(evidence)
		evidence = append(evidence, Evidence{
			Kind: KindClock, Code: "offset",
			Text:  fmt.Sprintf("local clock is off by %s", ctx.ClockOffset.Round(time.Second)),
			Check: "clock",
		})
		sigs = append(sigs, s)
	} else if ctx.ClockMeasured {
		// A measured, correct clock rules clock skew out as a reading of
		// certificate-validity failures.
		for i := range sigs {
			if sigs[i].cause == ClockSkew && sigs[i].strength < explicit {
				sigs[i].cause = ProviderUnavailable
				sigs[i].alts = []ID{WrongSettings}
			}
		}
	}

	if len(sigs) == 0 {
		return finish(Unknown, nil, evidence, ConfidenceLow)
	}

	// Pick the strongest; ties go to the earlier signal (rules run from
	// specific to loose, evidence in order).
	best := 0
	for i, s := range sigs {
		if s.strength > sigs[best].strength {
			best = i
		}
	}
	win := sigs[best]
	if win.grant {
		win = reorderGrant(win, ctx, provider)
	}

	// Candidates: what the winning signals leave open, then the other
	// signals by strength.
	var cands []ID
	seen := map[ID]bool{win.cause: true}
	push := func(id ID) {
		if !seen[id] {
			seen[id] = true
			cands = append(cands, id)
		}
	}
	for _, a := range win.alts {
		push(a)
	}
	for _, s := range sigs {
		// Weaker readings of the same cause do not widen the doubt.
		if s.cause == win.cause && s.strength >= win.strength {
			for _, a := range s.alts {
				push(a)
			}
		}
	}
	others := make([]signal, 0, len(sigs))
	for _, s := range sigs {
		if s.cause != win.cause {
			others = append(others, s)
		}
	}
	sort.SliceStable(others, func(i, j int) bool { return others[i].strength > others[j].strength })
	for _, s := range others {
		push(s.cause)
	}
	if provider != "" && provider != "google" && !hasTextual(sigs, OAuthAppInTesting) {
		cands = without(cands, OAuthAppInTesting)
	}

	// The evidence that decided it.
	var decided []Evidence
	used := map[int]bool{}
	for _, s := range sigs {
		if s.cause == win.cause && !used[s.ev] && s.ev >= 0 && s.ev < len(evidence) {
			used[s.ev] = true
		}
	}
	for i, e := range evidence {
		if used[i] {
			decided = append(decided, e)
		}
	}

	conf := ConfidenceLow
	switch {
	case win.strength >= explicit && len(cands) == 0:
		conf = ConfidenceHigh
	case win.strength >= specific:
		conf = ConfidenceMedium
	}
	return finish(win.cause, cands, decided, conf)
}

func finish(c ID, cands []ID, ev []Evidence, conf Confidence) Diagnosis {
	m := Info(c)
	if cands == nil {
		cands = []ID{}
	}
	if ev == nil {
		ev = []Evidence{}
	}
	return Diagnosis{
		Cause: c, Title: m.Title, Candidates: cands, Retry: m.Retry,
		Evidence: ev, Confidence: conf, Certain: conf == ConfidenceHigh,
	}
}

// reorderGrant applies the consent age to an ambiguous dead-grant verdict.
func reorderGrant(s signal, ctx Context, provider string) signal {
	age := ctx.ConsentAge
	google := provider == "google" || provider == ""
	var order []ID
	switch {
	case age <= 0:
		return s
	case google && age >= testingMin && age <= testingMax:
		order = []ID{OAuthAppInTesting, s.cause, TokenExpired, AccessRevoked, PasswordChanged}
	case age < testingMin:
		// Too young to have aged out: someone or something ended it.
		order = []ID{AccessRevoked, PasswordChanged, s.cause, TokenExpired}
	case age >= disuseAge:
		order = []ID{TokenExpired, AccessRevoked, PasswordChanged, s.cause}
	default:
		order = []ID{AccessRevoked, PasswordChanged, TokenExpired, s.cause}
	}
	all := append(order, s.alts...)
	var uniq []ID
	seen := map[ID]bool{}
	for _, id := range all {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	s.cause = uniq[0]
	s.alts = uniq[1:]
	return s
}

func newView(e Evidence, provider, auth string) *view {
	raw := unescape(e.Code + "\n" + e.Text)
	raw = withDecodedChallenges(raw)
	v := &view{
		kind: e.Kind, code: e.Code, raw: raw, low: strings.ToLower(raw),
		status: e.HTTPStatus, provider: provider, auth: auth, check: e.Check,
	}
	if v.auth == "" {
		v.auth = inferAuth(v.low)
	}
	return v
}

func allNetwork(sigs []signal) bool {
	for _, s := range sigs {
		if !s.network {
			return false
		}
	}
	return true
}

func hasTextual(sigs []signal, id ID) bool {
	for _, s := range sigs {
		if s.cause == id && s.textual {
			return true
		}
	}
	return false
}

func without(ids []ID, drop ID) []ID {
	out := ids[:0]
	for _, id := range ids {
		if id != drop {
			out = append(out, id)
		}
	}
	return out
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func joinEvidence(ev []Evidence) string {
	var b strings.Builder
	for _, e := range ev {
		b.WriteString(e.Code)
		b.WriteByte('\n')
		b.WriteString(e.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// Recorded returns a diagnosis of id taken from an earlier observation (a
// consent that failed before any grant existed), with the evidence that
// shows it. Confidence is medium: the cause was seen, not re-measured.
func Recorded(id ID, ev []Evidence) Diagnosis {
	if !Known(id) {
		id = Unknown
	}
	return finish(id, nil, ev, ConfidenceMedium)
}
