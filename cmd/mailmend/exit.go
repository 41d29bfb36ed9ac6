package main

import (
	"errors"
	"fmt"
)

// Exit codes: the command-line contract in DESIGN.md.
const (
	exitOK        = 0 // ok / healthy
	exitProblem   = 1 // a problem was found (doctor) or nothing recognised (explain)
	exitUsage     = 2 // bad flags or arguments
	exitStore     = 3 // credential store unavailable or corrupt
	exitReconnect = 4 // the user must act: new password or new consent
	exitTransient = 5 // network, provider or rate limit: try again later
)

// exitError carries an exit code with the message to print on stderr. A nil
// err prints nothing (the command already said what it had to).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that the process exits with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// usageErrorf reports a usage mistake (exit 2).
func usageErrorf(format string, args ...any) error {
	return withCode(exitUsage, fmt.Errorf(format, args...))
}

// silentExit ends the command with code after it printed its own output.
func silentExit(code int) error { return &exitError{code: code} }

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isStoreError(err) {
		return exitStore
	}
	return exitProblem
}
