package cause

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/mailmend/mailmend/assets"
)

var reLink = regexp.MustCompile(`<(https?://[^>\s]+)>|\((https?://[^)\s]+)\)`)

func TestGuides(t *testing.T) {
	files, err := fs.Glob(assets.Causes, "causes/*.md")
	if err != nil {
		t.Fatal(err)
	}
	have := map[ID]bool{}
	for _, f := range files {
		id := ID(strings.TrimSuffix(strings.TrimPrefix(f, "causes/"), ".md"))
		if !Known(id) {
			t.Errorf("%s: guide for an id outside the catalog", f)
			continue
		}
		have[id] = true
		b, err := fs.ReadFile(assets.Causes, f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		first, _, _ := strings.Cut(text, "\n")
		if want := "# " + Info(id).Title; first != want {
			t.Errorf("%s: heading %q, want %q", f, first, want)
		}
		if strings.Count(text, "\n# ") != 0 {
			t.Errorf("%s: more than one level-1 heading", f)
		}
		for _, section := range []string{"## What happened", "## Will retrying help?", "## Fix it"} {
			if !strings.Contains(text, section) {
				t.Errorf("%s: missing section %q", f, section)
			}
		}
		for _, m := range reLink.FindAllStringSubmatch(text, -1) {
			link := m[1] + m[2]
			if !strings.HasPrefix(link, "https://") {
				t.Errorf("%s: link is not https: %s", f, link)
			}
		}
	}
	for _, id := range All {
		if !have[id] {
			t.Errorf("no guide for %s (assets/causes/%s.md)", id, id)
		}
	}
	// Provider-specific causes name the provider pages a user needs.
	mustLink := map[ID][]string{
		AppPasswordRequired: {"myaccount.google.com/apppasswords", "login.yahoo.com", "account.apple.com", "fastmail"},
		OAuthAppInTesting:   {"console.cloud.google.com", "Publishing status"},
		RedirectURIMismatch: {"entra.microsoft.com", "console.cloud.google.com"},
		AccountBlocked:      {"account.live.com/activity", "myaccount.google.com"},
		ProtocolDisabled:    {"aka.ms/smtp_auth_disabled", "mail.yandex.com"},
	}
	for id, subs := range mustLink {
		b, _ := fs.ReadFile(assets.Causes, "causes/"+string(id)+".md")
		for _, s := range subs {
			if !strings.Contains(string(b), s) {
				t.Errorf("%s guide lacks %q", id, s)
			}
		}
	}
}
