package cause

import (
	"testing"
	"time"
)

func seedCorpus(f *testing.F) {
	f.Helper()
	lines := loadCorpusQuiet()
	for i, c := range lines {
		if i%7 == 0 {
			f.Add(c.Raw, c.Provider)
		}
	}
	for _, c := range docCases[:10] {
		f.Add(c.text, c.provider)
	}
	f.Add("eyJzdGF0dXMiOiI0MDEi", "google")
	f.Add(`\\\\u00`, "")
	f.Add("AADSTS99999999999999999999", "microsoft")
}

func FuzzParseText(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, text, provider string) {
		ev := ParseText(text, provider)
		for _, e := range ev {
			switch e.Kind {
			case KindOAuth, KindIMAP, KindSMTP, KindTransport:
			default:
				t.Fatalf("kind %q", e.Kind)
			}
			if e.Code == "" && e.Text == "" {
				t.Fatalf("empty evidence in %+v", ev)
			}
		}
		d := Classify(ev, Context{Provider: provider})
		checkDiagnosis(t, d)
	})
}

func FuzzClassify(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(func(t *testing.T, text, provider string) {
		d := Explain(text, provider)
		checkDiagnosis(t, d)
		// Raw evidence straight from a probe, any kind, with context.
		for _, k := range []Kind{KindOAuth, KindIMAP, KindSMTP, KindTransport, KindClock} {
			d := Classify([]Evidence{{Kind: k, Code: provider, Text: text, HTTPStatus: len(text) % 600}},
				Context{Provider: provider, Auth: "oauth2", ConsentAge: time.Duration(len(text)) * time.Hour,
					ClockMeasured: len(text)%2 == 0, ClockOffset: time.Duration(len(provider)) * time.Minute})
			checkDiagnosis(t, d)
		}
	})
}
