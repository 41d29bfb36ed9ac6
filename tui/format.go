package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/mailmend/mailmend/core/sanitize"
)

// fit truncates s (which may hold style escapes) to w cells and pads it with
// spaces to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = ansi.Truncate(s, w, "…")
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// clip truncates s to w cells without padding.
func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return ansi.Truncate(s, w, "…")
}

// wrap wraps plain text to w cells, breaking long words.
func wrap(s string, w int) []string {
	if w < 10 {
		w = 10
	}
	return strings.Split(ansi.Wrap(s, w, ""), "\n")
}

// ago formats the time since t compactly ("never", "now", "5m", "3h", "2d").
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	if now.Sub(t) < time.Minute {
		return "now"
	}
	return compact(now.Sub(t))
}

// compact formats a duration as its largest unit ("45s", "5m", "3h", "2d").
func compact(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}

// millis formats a check duration.
func millis(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// clean sanitizes one line of untrusted text for display.
func clean(s string) string { return sanitize.Line(s) }

// cleanEvent sanitizes every text field of a check event.
func cleanEvent(ev CheckEvent) CheckEvent {
	ev.Check = clean(ev.Check)
	ev.Detail = clean(ev.Detail)
	ev.Status = CheckStatus(clean(string(ev.Status)))
	ev.Cause = clean(ev.Cause)
	ev.CauseTitle = clean(ev.CauseTitle)
	if ev.Evidence != nil {
		e := make([]string, len(ev.Evidence))
		for i, s := range ev.Evidence {
			e[i] = clean(s)
		}
		ev.Evidence = e
	}
	if ev.Candidates != nil {
		c := make([]string, len(ev.Candidates))
		for i, s := range ev.Candidates {
			c[i] = clean(s)
		}
		ev.Candidates = c
	}
	return ev
}

// cleanStep sanitizes every text field of a wizard step.
func cleanStep(s Step) Step {
	switch st := s.(type) {
	case Explain:
		st.Title, st.Body = clean(st.Title), sanitize.Text(st.Body)
		return st
	case OpenURL:
		st.URL, st.Why = clean(st.URL), sanitize.Text(st.Why)
		return st
	case SecretInput:
		st.Label, st.Hint, st.Error = clean(st.Label), clean(st.Hint), clean(st.Error)
		return st
	case WaitBrowser:
		st.URL, st.SSHHint, st.Error = clean(st.URL), sanitize.Text(st.SSHHint), clean(st.Error)
		return st
	case DeviceCode:
		st.Code, st.URL = clean(st.Code), clean(st.URL)
		return st
	case Choose:
		st.Title = clean(st.Title)
		o := make([]string, len(st.Options))
		for i, s := range st.Options {
			o[i] = clean(s)
		}
		st.Options = o
		return st
	case Wait:
		st.Reason = clean(st.Reason)
		return st
	case Verify:
		st.What = clean(st.What)
		return st
	case Done:
		st.Message = sanitize.Text(st.Message)
		return st
	}
	return s
}

// cleanAccount sanitizes the displayed fields of an account.
func cleanAccount(a AccountView) AccountView {
	a.Email = clean(a.Email)
	a.Username = clean(a.Username)
	a.Provider = clean(a.Provider)
	a.ProviderName = clean(a.ProviderName)
	a.Cause = clean(a.Cause)
	a.IMAP.Host = clean(a.IMAP.Host)
	a.SMTP.Host = clean(a.SMTP.Host)
	return a
}

// countdown formats the time left to seconds ("45s", "1m30s", "2h").
func countdown(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	return compact(d)
}
