// Package sanitize makes text from servers and other untrusted sources safe to
// print on a terminal. Escape sequences (CSI, OSC, DCS, ...) and other control
// characters are removed so a hostile server cannot move the cursor, set the
// window title, write to the clipboard or hide text.
package sanitize

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text returns s with every terminal escape sequence (CSI, OSC, DCS, APC, PM,
// SOS, 7-bit and 8-bit forms) and every control character removed, keeping
// newlines and tabs. Carriage returns are dropped so text cannot overwrite
// itself, bidi overrides are dropped so it cannot reorder itself, and invalid
// UTF-8 becomes U+FFFD. See Line for a one-line variant.
func Text(s string) string { return clean(s, true) }

// Line is Text with newlines, carriage returns and tabs turned into spaces,
// for one-line displays.
func Line(s string) string { return clean(s, false) }

// Truncate cuts s to at most n runes, adding "…" when it cut.
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func clean(s string, multiline bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			b.WriteRune(utf8.RuneError)
			i++
			continue
		}
		switch {
		case r == 0x1b: // ESC: skip the whole sequence
			i = skipEscape(s, i+1)
			continue
		case r == 0x9b: // C1 CSI
			i = skipCSI(s, i+size)
			continue
		case r == 0x9d || r == 0x90 || r == 0x9e || r == 0x9f || r == 0x98: // C1 OSC, DCS, PM, APC, SOS
			i = skipString(s, i+size)
			continue
		case r == '\n':
			if multiline {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		case r == '\t':
			if multiline {
				b.WriteByte('\t')
			} else {
				b.WriteByte(' ')
			}
		case r == '\r':
			if !multiline {
				b.WriteByte(' ')
			}
		case unicode.IsControl(r), r == 0x7f:
			// drop other C0/C1 controls (BEL, BS, ...)
		case isBidiOverride(r):
			// drop bidi overrides that can reorder what the user reads
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func isBidiOverride(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// skipEscape skips the rest of an escape sequence whose ESC is just before i.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', '^', '_', 'X':
		return skipString(s, i+1)
	default:
		// two-byte sequence (ESC c, ESC 7, ...) or with intermediates (ESC ( B)
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) {
			i++
		}
		return i
	}
}

// skipCSI skips parameters and intermediates up to and including the final byte.
func skipCSI(s string, i int) int {
	for i < len(s) {
		c := s[i]
		i++
		if c >= 0x40 && c <= 0x7e {
			return i
		}
		if c < 0x20 && c != 0x1b {
			continue
		}
		if c == 0x1b {
			return i - 1
		}
	}
	return i
}

// skipString skips an OSC/DCS/PM/APC string up to BEL or ST (ESC \ or 0x9c).
func skipString(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\':
			return i + 2
		case s[i] == 0xc2 && i+1 < len(s) && s[i+1] == 0x9c:
			return i + 2
		}
		i++
	}
	return i
}
