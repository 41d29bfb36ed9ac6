package cause

import "testing"

func TestSettingsWorkedTurnsRefusalIntoOutage(t *testing.T) {
	ev := []Evidence{{Kind: KindTransport, Code: CodeRefused, Text: "dial tcp 127.0.0.2:993: connect: connection refused"}}
	if d := Classify(ev, Context{}); d.Cause != WrongSettings {
		t.Errorf("new account, refused: %s, want wrong_settings", d.Cause)
	}
	d := Classify(ev, Context{SettingsWorked: true})
	if d.Cause != ProviderUnavailable || len(d.Candidates) == 0 || d.Candidates[0] != WrongSettings {
		t.Errorf("worked before, refused: %s %v, want provider_unavailable then wrong_settings", d.Cause, d.Candidates)
	}
	// A certificate for another name stays a settings problem.
	ev = []Evidence{{Kind: KindTransport, Code: CodeX509Hostname, Text: "x509: certificate is valid for a, not b"}}
	if d := Classify(ev, Context{SettingsWorked: true}); d.Cause != WrongSettings {
		t.Errorf("hostname mismatch: %s", d.Cause)
	}
}
