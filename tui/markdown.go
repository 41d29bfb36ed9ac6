package tui

import (
	"regexp"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

var (
	mdBold  = regexp.MustCompile(`\*\*([^*]+)\*\*`)
	mdCode  = regexp.MustCompile("`([^`]+)`")
	mdAuto  = regexp.MustCompile(`<((?:https?|mailto):[^>\s]+)>`)
	mdLink  = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)\)`)
	mdList  = regexp.MustCompile(`^(\s*)([-*+]|\d+[.)])\s+`)
	mdEmph  = regexp.MustCompile(`(^|[\s(])_([^_]+)_([\s).,;:]|$)`)
	mdFence = "```"
)

// renderMarkdown renders the small markdown subset of the cause guides as
// terminal lines of at most width cells: headings bold, paragraphs and list
// items wrapped (with a hanging indent), code blocks kept as they are, inline
// **bold**, `code`, <links> and [text](url) simplified.
func renderMarkdown(md string, width int, st Styles) []string {
	if width < 20 {
		width = 20
	}
	var out []string
	var para []string
	paraIndent, paraPrefix := "", ""
	blank := func() {
		if len(out) > 0 && out[len(out)-1] != "" {
			out = append(out, "")
		}
	}
	flush := func() {
		if len(para) == 0 {
			return
		}
		text := inlineMarkdown(strings.Join(para, " "), st)
		w := width - ansi.StringWidth(paraPrefix)
		lines := strings.Split(ansi.Wrap(text, max(w, 10), ""), "\n")
		for i, l := range lines {
			if i == 0 {
				out = append(out, paraPrefix+l)
			} else {
				out = append(out, paraIndent+l)
			}
		}
		para = nil
		paraIndent, paraPrefix = "", ""
	}
	inFence := false
	for _, line := range strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, mdFence) {
			flush()
			inFence = !inFence
			continue
		}
		if inFence {
			out = append(out, st.Code.Render(clip("  "+line, width)))
			continue
		}
		switch {
		case trimmed == "":
			flush()
			blank()
		case strings.HasPrefix(trimmed, "#"):
			flush()
			blank()
			h := strings.TrimSpace(strings.TrimLeft(trimmed, "#"))
			for _, l := range wrap(stripInline(h), width) {
				out = append(out, st.Heading.Render(l))
			}
		case mdList.MatchString(line):
			flush()
			m := mdList.FindStringSubmatch(line)
			indent := strings.Repeat(" ", min(len(m[1]), 8))
			marker := m[2]
			if marker == "-" || marker == "*" || marker == "+" {
				marker = "•"
			}
			paraPrefix = indent + marker + " "
			paraIndent = strings.Repeat(" ", ansi.StringWidth(paraPrefix))
			para = append(para, strings.TrimSpace(line[len(m[0]):]))
		default:
			para = append(para, trimmed)
		}
	}
	flush()
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// inlineMarkdown applies the inline rules with styles.
func inlineMarkdown(s string, st Styles) string {
	s = mdLink.ReplaceAllString(s, "$1 ($2)")
	s = mdAuto.ReplaceAllString(s, "$1")
	s = mdCode.ReplaceAllStringFunc(s, func(m string) string {
		return st.Code.Render(m[1 : len(m)-1])
	})
	s = mdBold.ReplaceAllStringFunc(s, func(m string) string {
		return st.Bold.Render(m[2 : len(m)-2])
	})
	s = mdEmph.ReplaceAllString(s, "$1$2$3")
	return s
}

// stripInline removes inline markup without styling.
func stripInline(s string) string {
	s = mdLink.ReplaceAllString(s, "$1 ($2)")
	s = mdAuto.ReplaceAllString(s, "$1")
	s = mdCode.ReplaceAllString(s, "$1")
	s = mdBold.ReplaceAllString(s, "$1")
	return s
}
