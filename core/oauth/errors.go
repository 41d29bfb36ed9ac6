package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/sanitize"
)

// Errors the flows return (test with errors.Is).
var (
	// ErrStateMismatch means a redirect carried a state other than the
	// flow's: it was not the answer to this flow's request (or was forged).
	// Nothing was exchanged.
	ErrStateMismatch = errors.New("oauth: state in the redirect does not match this sign-in")
	// ErrTimeout means no redirect arrived within the flow's timeout; the
	// listeners are closed.
	ErrTimeout = errors.New("oauth: timed out waiting for the browser sign-in")
	// ErrFlowUsed means the flow already took its one redirect (or was
	// closed); start a new one.
	ErrFlowUsed = errors.New("oauth: this sign-in was already completed or closed")
	// ErrNoCode means a pasted address held neither a code nor an error.
	ErrNoCode = errors.New("oauth: the address holds no authorization code")
	// ErrNoDeviceFlow means the provider has no device authorization
	// endpoint; use the browser flow.
	ErrNoDeviceFlow = errors.New("oauth: this provider offers no device sign-in")
	// ErrDeviceExpired means the device code expired before the user
	// approved it.
	ErrDeviceExpired = errors.New("oauth: the device code expired before sign-in finished")
	// ErrDeviceDeclined means the user declined the device sign-in.
	ErrDeviceDeclined = errors.New("oauth: the device sign-in was declined")
	// ErrNoToken means the account has no OAuth token stored.
	ErrNoToken = errors.New("oauth: no OAuth token stored for the account")
	// ErrNoRefreshToken means the stored grant has no refresh token, so a
	// new consent is the only way on.
	ErrNoRefreshToken = errors.New("oauth: the stored grant has no refresh token")
	// ErrGrantReplaced means a new consent replaced the grant while a
	// refresh of the old one was under way; the new grant was kept.
	ErrGrantReplaced = errors.New("oauth: the grant was replaced during the refresh")
	// ErrNoRevoke means the provider has no revocation endpoint.
	ErrNoRevoke = errors.New("oauth: this provider has no revocation endpoint")
)

// maxBody is how much of a response body ProviderError keeps.
const maxBody = 2048

// ProviderError is an error answer from the authorization server: a token
// or device endpoint response (RFC 6749 section 5.2), an error redirect
// (section 4.1.2.1) or a revocation failure. Its fields are raw server
// text; Error() sanitises them.
type ProviderError struct {
	// Op is where the answer came from: "token" (a refresh), "exchange"
	// (an authorization code exchanged at the token endpoint),
	// "authorize", "device", "revoke".
	Op string
	// HTTPStatus is the response status; 0 for an error redirect.
	HTTPStatus int
	// Code is the OAuth error ("invalid_grant", "access_denied").
	Code string
	// Description is the server's error_description, raw.
	Description string
	// URI is the server's error_uri, raw.
	URI string
	// ErrorCodes are Microsoft Entra's error numbers (AADSTS...).
	ErrorCodes []int
	// Body is the start of the response body, for evidence.
	Body string
}

// Error returns "oauth: <op>: <code>: <description> (HTTP <status>)",
// sanitised and cut to one line.
func (e *ProviderError) Error() string {
	var b strings.Builder
	b.WriteString("oauth: ")
	b.WriteString(opName(e.Op))
	b.WriteString(" refused: ")
	if e.Code != "" {
		b.WriteString(sanitize.Truncate(sanitize.Line(e.Code), 80))
	} else {
		b.WriteString("no error code")
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(sanitize.Truncate(sanitize.Line(e.Description), 300))
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	return b.String()
}

func opName(op string) string {
	switch op {
	case "token":
		return "token endpoint"
	case "exchange":
		return "token endpoint (code exchange)"
	case "authorize":
		return "sign-in"
	case "device":
		return "device authorization"
	case "revoke":
		return "revocation"
	}
	return "authorization server"
}

// Evidence returns the error as evidence for cause.Classify: the OAuth
// error as Code, the description as Text (with the Entra numbers put in
// front when the description does not name them) and the HTTP status.
func (e *ProviderError) Evidence() cause.Evidence {
	text := e.Description
	for _, n := range e.ErrorCodes {
		tag := "AADSTS" + strconv.Itoa(n)
		if !strings.Contains(text, tag) {
			text = tag + ": " + text
		}
	}
	return cause.Evidence{Kind: cause.KindOAuth, Code: e.Code, Text: strings.TrimSpace(text), HTTPStatus: e.HTTPStatus, Check: "oauth." + e.Op}
}

// TransientError is a failure that may pass by itself: the server could
// not be reached, timed out, or answered 5xx or 429. It is returned once;
// nothing here retries it.
type TransientError struct {
	Op string
	// HTTPStatus is the response status, 0 when no response came.
	HTTPStatus int
	// RetryAfter is the server's Retry-After header, as sent.
	RetryAfter string
	// Err is the network error or a *ProviderError for the response.
	Err error
}

// Error describes the failure with the package prefix.
func (e *TransientError) Error() string {
	if e.HTTPStatus != 0 {
		return fmt.Sprintf("oauth: %s unavailable (HTTP %d): %v", opName(e.Op), e.HTTPStatus, e.Err)
	}
	return fmt.Sprintf("oauth: %s unreachable: %v", opName(e.Op), e.Err)
}

// Unwrap returns the underlying error.
func (e *TransientError) Unwrap() error { return e.Err }

// Evidence returns transport evidence (no response) or the response's
// OAuth evidence.
func (e *TransientError) Evidence() cause.Evidence {
	var pe *ProviderError
	if errors.As(e.Err, &pe) {
		return pe.Evidence()
	}
	return cause.Evidence{Kind: cause.KindTransport, Code: transportCode(e.Err), Text: e.Err.Error(), Check: "oauth." + e.Op}
}

func transportCode(err error) string {
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "timeout"), strings.Contains(msg, "deadline exceeded"):
		return "timeout"
	case strings.Contains(msg, "connection refused"):
		return "refused"
	case strings.Contains(msg, "x509"), strings.Contains(msg, "certificate"):
		return "x509"
	case strings.Contains(msg, "no such host"):
		return "dns"
	}
	return "network"
}

// sentinelError is an error that reads as msg and matches both a sentinel
// and the provider's answer.
type sentinelError struct {
	sentinel error
	err      error
}

func (e *sentinelError) Error() string   { return e.sentinel.Error() + ": " + e.err.Error() }
func (e *sentinelError) Unwrap() []error { return []error{e.sentinel, e.err} }

// IsTransient reports whether err is (or wraps) a *TransientError.
func IsTransient(err error) bool {
	var te *TransientError
	return errors.As(err, &te)
}

// providerError builds a *ProviderError from a status, headers and body,
// accepting JSON and form-encoded bodies.
func providerError(op string, status int, contentType string, body []byte) *ProviderError {
	pe := &ProviderError{Op: op, HTTPStatus: status, Body: truncBody(body)}
	var j struct {
		Error       json.RawMessage `json:"error"`
		Description string          `json:"error_description"`
		URI         string          `json:"error_uri"`
		ErrorCodes  []int           `json:"error_codes"`
	}
	if err := json.Unmarshal(body, &j); err == nil {
		var code string
		if json.Unmarshal(j.Error, &code) == nil {
			pe.Code = code
		} else {
			// Some APIs nest: {"error": {"code": 400, "message": "...", "status": "..."}}.
			var nested struct {
				Message string `json:"message"`
				Status  string `json:"status"`
			}
			if json.Unmarshal(j.Error, &nested) == nil {
				pe.Code = nested.Status
				if j.Description == "" {
					j.Description = nested.Message
				}
			}
		}
		pe.Description, pe.URI, pe.ErrorCodes = j.Description, j.URI, j.ErrorCodes
		return pe
	}
	if strings.Contains(contentType, "form-urlencoded") || strings.Contains(contentType, "text/plain") {
		if v, err := url.ParseQuery(string(body)); err == nil {
			pe.Code, pe.Description, pe.URI = v.Get("error"), v.Get("error_description"), v.Get("error_uri")
		}
	}
	return pe
}

func truncBody(b []byte) string {
	if len(b) > maxBody {
		b = b[:maxBody]
	}
	return string(b)
}

// transientStatus reports whether an HTTP status is worth trying again
// later.
func transientStatus(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}

// mapRetrieve turns an x/oauth2 error into a *ProviderError or
// *TransientError.
func mapRetrieve(op string, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("oauth: %s: %w", opName(op), context.Canceled)
		}
		return &TransientError{Op: op, Err: err}
	}
	status, ctype, retry := 0, "", ""
	if re.Response != nil {
		status = re.Response.StatusCode
		ctype = re.Response.Header.Get("Content-Type")
		retry = re.Response.Header.Get("Retry-After")
	}
	pe := providerError(op, status, ctype, re.Body)
	if pe.Code == "" {
		pe.Code, pe.Description, pe.URI = re.ErrorCode, re.ErrorDescription, re.ErrorURI
	}
	if transientStatus(status) || pe.Code == "temporarily_unavailable" {
		return &TransientError{Op: op, HTTPStatus: status, RetryAfter: retry, Err: pe}
	}
	return pe
}
