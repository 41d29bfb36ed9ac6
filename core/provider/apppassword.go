package provider

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// NormalizeAppPassword cleans a pasted app password by p's
// AppPasswordFormat rule and checks its shape:
//   - "" or "none": surrounding whitespace is trimmed, nothing else changes;
//   - "strip_spaces": every whitespace character is removed;
//   - "google16": whitespace is removed; 16 ASCII letters must remain;
//   - "apple": whitespace is removed; four groups of four lowercase letters
//     joined by hyphens must remain (16 letters without hyphens are accepted
//     and hyphenated).
//
// The result is never empty on success. Errors explain the expected shape
// and never contain the input.
func NormalizeAppPassword(p Provider, s string) (string, error) {
	name := p.Name
	if name == "" {
		name = p.ID
	}
	var out string
	switch p.AppPasswordFormat {
	case "", FormatNone:
		out = strings.TrimSpace(s)
	case FormatStripSpaces:
		out = stripSpace(s)
	case FormatGoogle16:
		out = stripSpace(s)
		if out == "" {
			break
		}
		if n := len([]rune(out)); n != 16 {
			return "", fmt.Errorf("provider: a %s app password is 16 letters, shown as four groups of four; this one has %d characters after removing spaces", name, n)
		}
		if !allASCIILetters(out) {
			return "", fmt.Errorf("provider: a %s app password is 16 letters, shown as four groups of four; this one holds a digit, symbol or accented character — copy it again from the app-password page", name)
		}
	case FormatApple:
		out = stripSpace(s)
		if out == "" {
			break
		}
		if len(out) == 16 && allLowerASCII(out) {
			out = out[0:4] + "-" + out[4:8] + "-" + out[8:12] + "-" + out[12:16]
		}
		if !appleShape(out) {
			return "", fmt.Errorf("provider: a %s app-specific password looks like xxxx-xxxx-xxxx-xxxx: four groups of four lowercase letters joined by hyphens; this one does not", name)
		}
	default:
		return "", fmt.Errorf("provider: %s: unknown app_password_format %q", p.ID, p.AppPasswordFormat)
	}
	if out == "" {
		return "", errors.New("provider: the password is empty")
	}
	return out, nil
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func allASCIILetters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

func allLowerASCII(s string) bool {
	for _, r := range s {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// appleShape reports whether s is xxxx-xxxx-xxxx-xxxx in lowercase ASCII.
func appleShape(s string) bool {
	if len(s) != 19 {
		return false
	}
	for i, r := range s {
		if i%5 == 4 {
			if r != '-' {
				return false
			}
		} else if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}
