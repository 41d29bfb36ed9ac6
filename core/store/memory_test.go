package store

import "testing"

func TestMemoryConformance(t *testing.T) {
	runConformance(t, backendCase{
		name: "memory",
		open: func(t *testing.T) func() Backend {
			m := NewMemory()
			return func() Backend { return m }
		},
		items: func(t *testing.T, b Backend) []string { return sortedKeys(b.(*Memory).Keys()) },
	})
}
