package store

import "fmt"

// kindError is an error with its own message that matches one of the
// package's sentinel errors (and optionally a cause) with errors.Is.
type kindError struct {
	msg   string
	kind  error
	cause error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// newKindError returns an error reading like fmt.Sprintf(format, args...)
// that matches kind with errors.Is; cause, when not nil, matches too.
func newKindError(kind, cause error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: kind, cause: cause}
}

// unavailable returns an error matching ErrUnavailable.
func unavailable(cause error, format string, args ...any) error {
	return newKindError(ErrUnavailable, cause, format, args...)
}

// corrupt returns an error matching ErrCorrupt.
func corrupt(cause error, format string, args ...any) error {
	return newKindError(ErrCorrupt, cause, format, args...)
}

// notFound returns an error matching ErrNotFound.
func notFound(format string, args ...any) error {
	return newKindError(ErrNotFound, nil, format, args...)
}
