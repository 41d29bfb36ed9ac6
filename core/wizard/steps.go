package wizard

import (
	"time"

	"github.com/mailmend/mailmend/core/cause"
)

// Step is one screen of a wizard: plain data a user interface shows. Its
// concrete type is one of Explain, OpenURL, SecretInput, TextInput, Consent,
// DeviceCode, Choose, Wait, Working or Done. Every string in a step that
// came from a server has been sanitized (no terminal escapes, one line per
// server message).
type Step interface{ isStep() }

// Explain shows a guide. The user continues with Submit("").
type Explain struct {
	Title string
	// Body is markdown: the cause's guide from assets/causes plus what was
	// found for this account (the evidence, measured values).
	Body string
}

// OpenURL asks the user to do something on a web page. The wizard has
// already tried to open it when Opened is true; the URL is always shown so
// it can be copied. The user continues with Submit("").
type OpenURL struct {
	URL string
	// Label names the page ("Google app passwords").
	Label string
	// Why says what to do there.
	Why    string
	Opened bool
}

// SecretInput asks for a secret: a password, an app password or an OAuth
// client secret. The user answers with Submit(value).
type SecretInput struct {
	Label string
	// Hint is the format rule in words ("16 letters; spaces are fine").
	Hint string
	// Mask is true: the value must not be echoed.
	Mask bool
	// Optional means an empty answer is accepted (a client without secret).
	Optional bool
	// Validate checks and normalises an answer before it is sent, so a user
	// interface can flag a malformed value at once; nil accepts anything.
	// The wizard applies the same check to what Submit delivers.
	Validate func(string) (string, error)
	// Error says why the previous answer was rejected; "" the first time.
	Error string
}

// TextInput asks for a visible value such as an OAuth client id. The user
// answers with Submit(value); an empty answer takes Default when set.
type TextInput struct {
	Label   string
	Hint    string
	Default string
	// Error says why the previous answer was rejected; "" the first time.
	Error string
}

// Consent waits for a browser sign-in. The wizard advances by itself when
// the browser comes back to the loopback listener. With PasteAllowed the
// user may instead Submit the address the browser ended on (how sign-in
// works when the browser runs on another computer); Submit("") opens the
// browser again.
type Consent struct {
	// AuthURL is the sign-in address to open (or copy).
	AuthURL string
	// RedirectURI is the exact redirect URI sent to the provider.
	RedirectURI string
	// SSHHint is the port-forwarding command to run on the computer with the
	// browser when this runs in an SSH session; "" otherwise.
	SSHHint      string
	PasteAllowed bool
	// Opened says the wizard started the browser with AuthURL.
	Opened bool
	// Error says why the previous attempt failed; "" the first time.
	Error string
}

// DeviceCode shows a code to enter at VerificationURI (OAuth device flow).
// The wizard advances by itself once the user approved or declined.
type DeviceCode struct {
	UserCode        string
	VerificationURI string
	// VerificationURIComplete has the code in it, when the provider sends it.
	VerificationURIComplete string
	// ExpiresAt is when the code stops working (zero: not said).
	ExpiresAt time.Time
	Opened    bool
}

// Option is one answer of a Choose step.
type Option struct {
	// Key identifies the option; Submit(Key) picks it.
	Key   string
	Label string
}

// Choose offers options. The user answers with Choose(index), Submit(Key)
// or Submit of the 1-based option number.
type Choose struct {
	Question string
	Options  []Option
	// Error says what went wrong since the question was last asked.
	Error string
}

// Wait shows a countdown; the wizard advances by itself at Until.
type Wait struct {
	Until  time.Time
	Reason string
}

// Working says a live test or request is running; the wizard advances by
// itself.
type Working struct {
	What string
}

// Done ends the wizard. OK means the account works now; a new credential,
// client or setting was saved only when OK (or when Message says so).
type Done struct {
	OK      bool
	Message string
	// Next is the cause found by the last test when it differs from the one
	// this wizard fixed ("" when none): the next wizard to run.
	Next cause.ID
}

func (Explain) isStep()     {}
func (OpenURL) isStep()     {}
func (SecretInput) isStep() {}
func (TextInput) isStep()   {}
func (Consent) isStep()     {}
func (DeviceCode) isStep()  {}
func (Choose) isStep()      {}
func (Wait) isStep()        {}
func (Working) isStep()     {}
func (Done) isStep()        {}

// acceptsInput reports whether Submit answers s.
func acceptsInput(s Step) bool {
	switch s.(type) {
	case Explain, OpenURL, SecretInput, TextInput, Consent, Choose:
		return true
	}
	return false
}
