package store

import (
	"os"
	"slices"
	"testing"

	"github.com/mailmend/mailmend/core/internal/keyringtest"
)

func TestMain(m *testing.M) { os.Exit(keyringtest.Main(m)) }

func sortedKeys(k []string) []string {
	slices.Sort(k)
	return k
}
