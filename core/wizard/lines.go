package wizard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Errors RunLines returns.
var (
	// ErrNotRepaired means the wizard ended with Done{OK: false}; its
	// message was printed. Outcome has the details (Next).
	ErrNotRepaired = errors.New("wizard: the account was not repaired")
	// ErrInputClosed means the input ended while the wizard waited for an
	// answer; the wizard was cancelled and nothing was saved.
	ErrInputClosed = errors.New("wizard: input ended before the wizard finished")
)

// RunLines drives w in plain line mode, for `mailmend reconnect` when
// stdin is not a terminal or the terminal is a plain one: it prints each
// step to out and reads answers from in, one line each. Explain and OpenURL
// are printed and passed without waiting; a SecretInput is read with
// readSecret (a masked terminal prompt) when it is not nil, else as a line
// from in; a Consent waits for the browser or a pasted address, whichever
// comes first. It returns nil when the account was repaired,
// ErrNotRepaired when the wizard ended without, ErrInputClosed when in
// ended first, and ctx's error when ctx ended. w is started under ctx if it
// is not running yet, and cancelled when RunLines returns early.
func RunLines(ctx context.Context, w *Wizard, in io.Reader, out io.Writer, readSecret func(prompt string) (string, error)) error {
	w.Start(ctx)
	lr := &lineReader{r: bufio.NewReader(in)}
	p := &printer{w: out}
	steps := w.Steps()
	var cur Step // the step waiting for a line; nil when none is
	inputOver := false
	fail := func(err error) error {
		w.Cancel()
		_ = w.Wait(context.Background())
		return err
	}
	for {
		var lines <-chan lineResult
		if cur != nil && !inputOver {
			lines = lr.next()
		}
		select {
		case s, ok := <-steps:
			if !ok {
				return finished(w)
			}
			cur = nil
			if err := p.step(s); err != nil {
				return fail(err)
			}
			switch st := s.(type) {
			case Explain, OpenURL:
				if err := w.Submit(""); err != nil {
					return fail(err)
				}
			case SecretInput:
				if readSecret == nil {
					cur = s
					break
				}
				v, err := readSecret(st.Label + ": ")
				if err != nil {
					return fail(fmt.Errorf("wizard: read %s: %w", strings.ToLower(st.Label), err))
				}
				if err := w.Submit(v); err != nil {
					return fail(err)
				}
			case TextInput, Choose, Consent:
				cur = s
			}
		case r := <-lines:
			lr.pending = nil
			if r.err != nil {
				if _, ok := cur.(Consent); ok {
					inputOver = true // only the browser can answer now
					continue
				}
				return fail(ErrInputClosed)
			}
			cur = nil
			if err := w.Submit(r.line); err != nil && !errors.Is(err, ErrClosed) {
				return fail(err)
			}
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
}

// finished is RunLines' result once the wizard closed its steps.
func finished(w *Wizard) error {
	if d, ok := w.Outcome(); ok {
		if d.OK {
			return nil
		}
		return ErrNotRepaired
	}
	if err := w.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// lineReader reads one line at a time in the background, so that a wait
// for a line can give way to a step the wizard reached by itself. At most
// one read is outstanding; a line that arrives after its step passed is
// used for the next question.
type lineReader struct {
	r       *bufio.Reader
	pending chan lineResult
}

type lineResult struct {
	line string
	err  error
}

func (lr *lineReader) next() <-chan lineResult {
	if lr.pending == nil {
		ch := make(chan lineResult, 1)
		lr.pending = ch
		go func() {
			s, err := lr.r.ReadString('\n')
			if err == io.EOF && s != "" {
				err = nil
			}
			ch <- lineResult{strings.TrimRight(s, "\r\n"), err}
		}()
	}
	return lr.pending
}

// printer writes steps as plain text.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *printer) step(s Step) error {
	switch st := s.(type) {
	case Explain:
		p.printf("\n== %s ==\n\n%s\n\n", st.Title, st.Body)
	case OpenURL:
		p.printf("%s:\n  %s\n", st.Label, st.URL)
		if st.Opened {
			p.printf("(opened in your browser)\n")
		}
		if st.Why != "" {
			p.printf("%s\n", st.Why)
		}
	case SecretInput:
		if st.Error != "" {
			p.printf("! %s\n", st.Error)
		}
		p.printf("%s", st.Label)
		if st.Hint != "" {
			p.printf(" (%s)", st.Hint)
		}
		p.printf(": ")
	case TextInput:
		if st.Error != "" {
			p.printf("! %s\n", st.Error)
		}
		p.printf("%s", st.Label)
		if st.Default != "" {
			p.printf(" [%s]", st.Default)
		}
		p.printf(": ")
	case Consent:
		if st.Error != "" {
			p.printf("! %s\n", st.Error)
		}
		p.printf("Sign in with your browser at this address:\n  %s\n", st.AuthURL)
		if st.Opened {
			p.printf("(opened in your browser)\n")
		}
		if st.SSHHint != "" {
			p.printf("This is an SSH session: on the computer with the browser, run\n  %s\nor paste the address below.\n", st.SSHHint)
		}
		if st.PasteAllowed {
			p.printf("Waiting for the browser. If it ends on a page that cannot be reached, paste that page's address here (empty line: open the browser again):\n")
		}
	case DeviceCode:
		p.printf("On any device, open\n  %s\nand enter the code  %s\n", st.VerificationURI, st.UserCode)
		if !st.ExpiresAt.IsZero() {
			p.printf("(the code works until %s)\n", st.ExpiresAt.Local().Format("15:04"))
		}
		p.printf("Waiting for approval...\n")
	case Choose:
		if st.Error != "" {
			p.printf("! %s\n", st.Error)
		}
		p.printf("%s\n", st.Question)
		for i, o := range st.Options {
			p.printf("  %d) %s\n", i+1, o.Label)
		}
		p.printf("Choice: ")
	case Wait:
		p.printf("%s\nWaiting until %s...\n", st.Reason, st.Until.Local().Format("15:04:05"))
	case Working:
		p.printf("%s...\n", st.What)
	case Done:
		mark := "FAILED"
		if st.OK {
			mark = "OK"
		}
		p.printf("%s: %s\n", mark, st.Message)
		if st.Next != "" {
			p.printf("Next: mailmend reconnect fixes %s.\n", st.Next)
		}
	}
	return p.err
}
