package cause

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corpusLine is one line of the shared error corpus.
type corpusLine struct {
	Raw      string  `json:"raw"`
	Provider string  `json:"provider"`
	Protocol string  `json:"protocol"`
	Expect   *string `json:"expect"`
	Exact    []ID    `json:"exact"`
	Family   []ID    `json:"family"`
	Source   string  `json:"source"`
}

// corpusPath is the public error corpus, relative to this package.
var corpusPath = filepath.Join("..", "..", "..", "shared", "corpus", "errors-public.jsonl")

// loadCorpusQuiet reads the corpus, or returns nil when it is absent.
func loadCorpusQuiet() []corpusLine {
	data, err := os.ReadFile(corpusPath)
	if err != nil {
		return nil
	}
	var out []corpusLine
	for _, l := range strings.Split(string(data), "\n") {
		var c corpusLine
		if json.Unmarshal([]byte(l), &c) == nil {
			out = append(out, c)
		}
	}
	return out
}

// loadCorpus reads the corpus or skips (fails with MAILMEND_REQUIRE_REAL=1).
func loadCorpus(tb testing.TB) []corpusLine {
	tb.Helper()
	if _, err := os.Stat(corpusPath); err != nil {
		if os.Getenv("MAILMEND_REQUIRE_REAL") == "1" {
			tb.Fatalf("error corpus missing: %v", err)
		}
		tb.Skipf("error corpus not present (%v); skipping", err)
	}
	return loadLines(tb, corpusPath)
}

// loadLines reads a JSON-lines file of corpus lines; blank lines are
// skipped, a malformed line fails the test.
func loadLines(tb testing.TB, path string) []corpusLine {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var c corpusLine
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			tb.Fatalf("%s line %d: %v", path, len(out)+1, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestCorpus(t *testing.T) {
	n, pe, _ := score(t, "corpus", loadCorpus(t))
	if n == 0 {
		t.Fatal("corpus has no labelled lines")
	}
	if pe < 90 {
		t.Errorf("exact accuracy %.1f%% is below 90%%", pe)
	}
}

// score classifies every line, logs the misses and the figures, checks the
// invariants, and returns the labelled count and exact and family accuracy
// in percent. Lines whose cause is outside the catalog must not be
// diagnosed with certainty.
func score(t *testing.T, name string, lines []corpusLine) (n int, exactPct, familyPct float64) {
	t.Helper()
	var exact, family, nulls int
	for i, c := range lines {
		provider := c.Provider
		if provider == "generic" || provider == "dovecot" || provider == "exchange" {
			provider = ""
		}
		d := Explain(c.Raw, provider)
		checkDiagnosis(t, d)
		if c.Expect == nil {
			nulls++
			if d.Certain {
				t.Errorf("%s line %d: cause outside the catalog, but diagnosis claims certainty: %v\n  raw: %.200q", name, i+1, d, c.Raw)
			}
			continue
		}
		n++
		switch {
		case slices.Contains(c.Exact, d.Cause):
			exact++
			family++
		case slices.Contains(c.Family, d.Cause):
			family++
			t.Logf("family-only %s line %d: got %s, want %v\n  raw: %.200q", name, i+1, d.Cause, c.Exact, c.Raw)
		default:
			t.Logf("miss %s line %d: got %v, want %v\n  raw: %.300q", name, i+1, d, c.Exact, c.Raw)
		}
	}
	if n == 0 {
		return 0, 0, 0
	}
	exactPct = 100 * float64(exact) / float64(n)
	familyPct = 100 * float64(family) / float64(n)
	t.Logf("%s: %d labelled lines (+%d unlabelled): exact %d (%.1f%%), family %d (%.1f%%)", name, n, nulls, exact, exactPct, family, familyPct)
	return n, exactPct, familyPct
}

// checkDiagnosis asserts the invariants every diagnosis keeps.
func checkDiagnosis(tb testing.TB, d Diagnosis) {
	tb.Helper()
	if !Known(d.Cause) {
		tb.Fatalf("cause %q is not a catalog id", d.Cause)
	}
	if d.Title != Info(d.Cause).Title || d.Retry != Info(d.Cause).Retry {
		tb.Fatalf("title/retry do not match the catalog for %s: %q %q", d.Cause, d.Title, d.Retry)
	}
	if d.Candidates == nil || d.Evidence == nil {
		tb.Fatalf("nil candidates or evidence: %#v", d)
	}
	seen := map[ID]bool{}
	for _, c := range d.Candidates {
		if c == d.Cause {
			tb.Fatalf("candidates contain the cause %s: %v", c, d.Candidates)
		}
		if seen[c] {
			tb.Fatalf("duplicate candidate %s: %v", c, d.Candidates)
		}
		if !Known(c) {
			tb.Fatalf("candidate %q is not a catalog id", c)
		}
		seen[c] = true
	}
	if d.Certain != (d.Confidence == ConfidenceHigh) {
		tb.Fatalf("Certain %v disagrees with confidence %s", d.Certain, d.Confidence)
	}
	if d.Certain && len(d.Candidates) > 0 {
		tb.Fatalf("certain diagnosis with candidates: %v", d)
	}
}
