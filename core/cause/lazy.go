package cause

import (
	"regexp"
	"sync"
)

// lazyRE is a regular expression compiled on first use, so that programs
// that link the classifier but do not call it (mailmend token) do not pay
// for compiling its expressions at start-up.
type lazyRE struct {
	get func() *regexp.Regexp
}

func lazy(expr string) lazyRE {
	return lazyRE{get: sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })}
}
