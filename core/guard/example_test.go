package guard_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mailmend/mailmend/core/guard"
)

// A login is tried only when the guard allows it, and its outcome is
// reported back.
func ExampleGuard() {
	dir, _ := os.MkdirTemp("", "guard")
	defer os.RemoveAll(dir)
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	g := guard.New(filepath.Join(dir, "guard"), func() time.Time { return now })
	for i := range 4 {
		ok, wait, err := g.Allow("acct1")
		if err != nil {
			fmt.Println(err)
			return
		}
		if !ok {
			fmt.Printf("attempt %d: blocked for %v\n", i+1, wait)
			continue
		}
		fmt.Printf("attempt %d: allowed\n", i+1)
		_ = g.Failed("acct1") // the server said "invalid credentials"
		now = now.Add(time.Minute)
	}
	// Output:
	// attempt 1: allowed
	// attempt 2: allowed
	// attempt 3: allowed
	// attempt 4: blocked for 12m0s
}
