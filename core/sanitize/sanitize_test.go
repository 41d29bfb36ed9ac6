package sanitize

import (
	"strings"
	"testing"
	"unicode"
)

func TestText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"},
		{"csi colour", "\x1b[31mred\x1b[0m text", "red text"},
		{"csi clear screen", "a\x1b[2J\x1b[Hb", "ab"},
		{"osc title bel", "x\x1b]0;pwned\x07y", "xy"},
		{"osc 52 clipboard st", "x\x1b]52;c;ZXZpbA==\x1b\\y", "xy"},
		{"osc hyperlink", "\x1b]8;;https://evil\x1b\\click\x1b]8;;\x1b\\", "click"},
		{"dcs", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"},
		{"c1 csi", "a\u009b31mb", "ab"},
		{"c1 osc", "a\u009d0;t\u009cb", "ab"},
		{"bell backspace", "a\a\bb", "ab"},
		{"carriage return", "safe\rEVIL", "safeEVIL"},
		{"newline kept", "line1\nline2", "line1\nline2"},
		{"bidi override", "abc\u202edcba", "abcdcba"},
		{"invalid utf8", "a\xffb", "a\ufffdb"},
		{"unterminated osc", "a\x1b]0;never ends", "a"},
		{"esc at end", "a\x1b", "a"},
		{"charset select", "a\x1b(Bb", "ab"},
		{"unicode kept", "Grüße 日本", "Grüße 日本"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Text(tc.in); got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLine(t *testing.T) {
	if got, want := Line("a\nb\tc\r\nd"), "a b c  d"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("abcdef", 4); got != "abc…" {
		t.Errorf("Truncate = %q", got)
	}
	if got := Truncate("abc", 4); got != "abc" {
		t.Errorf("Truncate short = %q", got)
	}
	if got := Truncate("日本語テキスト", 3); got != "日本…" {
		t.Errorf("Truncate runes = %q", got)
	}
}

// safe reports whether s has no control character but newline and tab.
func safe(s string, multiline bool) bool {
	for _, r := range s {
		if (r == '\n' || r == '\t') && multiline {
			continue
		}
		if unicode.IsControl(r) || isBidiOverride(r) {
			return false
		}
	}
	return true
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"\x1b[31mx", "\x1b]0;t\x07", "\u009b1m", "a\x1bP\x1b\\", "ok", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s)
		if !safe(out, true) {
			t.Fatalf("Text(%q) = %q keeps a control character", s, out)
		}
		if l := Line(s); !safe(l, false) || strings.ContainsAny(l, "\n\t") {
			t.Fatalf("Line(%q) = %q keeps a control character", s, l)
		}
	})
}
