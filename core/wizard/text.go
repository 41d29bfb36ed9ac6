package wizard

import (
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/mailmend/mailmend/assets"
	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/sanitize"
)

// Guide returns the markdown guide of a cause (assets/causes/<id>.md)
// without its title line, or "" when there is none.
func Guide(id cause.ID) string {
	b, err := fs.ReadFile(assets.Causes, "causes/"+string(id)+".md")
	if err != nil {
		return ""
	}
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	if strings.HasPrefix(s, "# ") {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		} else {
			s = ""
		}
	}
	return strings.TrimSpace(s)
}

// oneLine makes server or error text safe and short for a step.
func oneLine(s string) string {
	return sanitize.Truncate(strings.TrimSpace(sanitize.Line(s)), 400)
}

// errText is an error's message without the package prefix, sanitized.
func errText(err error) string {
	s := err.Error()
	for _, p := range []string{"provider: ", "probe: ", "oauth: ", "store: ", "wizard: "} {
		s = strings.TrimPrefix(s, p)
	}
	return oneLine(s)
}

// evidenceSection renders the diagnosis' evidence as a markdown list.
func evidenceSection(d cause.Diagnosis) string {
	if len(d.Evidence) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("## What mailmend saw\n\n")
	for _, e := range d.Evidence {
		line := string(e.Kind)
		if e.Check != "" {
			line = e.Check
		}
		if e.Code != "" {
			line += " " + e.Code
		}
		if t := oneLine(e.Text); t != "" {
			line += ": " + t
		}
		b.WriteString("- `" + strings.ReplaceAll(oneLine(line), "`", "'") + "`\n")
	}
	return b.String()
}

// body joins markdown sections, skipping empty ones.
func body(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "\n\n")
}

// explainCause is the Explain step for the wizard's cause, with extra
// sections placed before the guide.
func (w *Wizard) explainCause(id cause.ID, extra ...string) Explain {
	parts := append([]string{}, extra...)
	parts = append(parts, evidenceSection(w.env.Diagnosis), Guide(id))
	return Explain{Title: cause.Info(id).Title, Body: body(parts...)}
}

// providerName is the provider's display name.
func providerName(p provider.Provider) string {
	if p.Name != "" {
		return p.Name
	}
	if p.ID != "" {
		return p.ID
	}
	return "the provider"
}

// passwordHint describes the app-password format rule in words.
func passwordHint(p provider.Provider) string {
	switch p.AppPasswordFormat {
	case provider.FormatGoogle16:
		return "16 letters; spaces are fine"
	case provider.FormatApple:
		return "xxxx-xxxx-xxxx-xxxx, lowercase letters"
	case provider.FormatStripSpaces:
		return "spaces are removed"
	}
	return ""
}

// fmtOffset describes a clock offset ("12m3s ahead").
func fmtOffset(d time.Duration) string {
	dir := "ahead"
	if d < 0 {
		d, dir = -d, "behind"
	}
	return d.Round(time.Second).String() + " " + dir
}

// clockSync returns the commands that turn on network time, the given
// system's first.
func clockSync(goos string) string {
	sections := map[string]string{
		"linux": "**Linux:** `sudo timedatectl set-ntp true`, then `timedatectl status` should say " +
			"\"System clock synchronized: yes\". With chrony: `sudo chronyc makestep`. " +
			"In a container or virtual machine, fix the host's clock.",
		"darwin":  "**macOS:** `sudo sntp -sS time.apple.com`, and System Settings → General → Date & Time → *Set time and date automatically*.",
		"windows": "**Windows:** `w32tm /resync` in an administrator prompt, and Settings → Time & language → Date & time → *Set time automatically*.",
	}
	order := []string{"linux", "darwin", "windows"}
	var b strings.Builder
	b.WriteString("## Turn on time sync\n\n")
	if s, ok := sections[goos]; ok {
		b.WriteString("- " + s + "\n")
	}
	for _, k := range order {
		if k != goos {
			b.WriteString("- " + sections[k] + "\n")
		}
	}
	return b.String()
}

// settingsTable compares the account's servers with the known-good ones.
func settingsTable(cur account.Account, imap, smtp account.Endpoint) string {
	var b strings.Builder
	b.WriteString("| | This account | Known-good |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| IMAP | %s | %s |\n", cur.IMAP, imap)
	fmt.Fprintf(&b, "| SMTP | %s | %s |\n", cur.SMTP, smtp)
	return b.String()
}

// redirectHelp says how to register the redirect URI at the provider.
func redirectHelp(p provider.Provider, uri string, fixedPort bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "mailmend sends this redirect URI:\n\n    %s\n\n", uri)
	if !fixedPort {
		b.WriteString("The port changes with every sign-in unless `redirect_port` is set in the config file.\n\n")
	}
	switch p.ID {
	case "google":
		b.WriteString("**Google:** use an OAuth client of type **Desktop app** (Google Cloud console → Clients); " +
			"desktop clients accept any loopback port. A \"Web application\" client needs the exact URI above " +
			"under *Authorized redirect URIs*.")
	case "microsoft":
		b.WriteString("**Microsoft:** Entra → App registrations → your app → Authentication → add the platform " +
			"**Mobile and desktop applications** with the redirect URI `http://localhost` " +
			"(it accepts any port), and set `redirect_host = \"localhost\"` for the provider.")
	default:
		b.WriteString("Add the URI above to the OAuth client's allowed redirect URIs in " + providerName(p) + "'s developer console.")
	}
	return b.String()
}
