package store

import (
	"fmt"
	"sync"
)

// Memory is a Backend that keeps items in process memory. It is safe for
// concurrent use and forgets everything when the process ends; the demo and
// tests use it.
type Memory struct {
	mu    sync.RWMutex
	items map[string][]byte
}

var _ Backend = (*Memory)(nil)

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory { return &Memory{items: make(map[string][]byte)} }

// Name returns "memory".
func (m *Memory) Name() string { return "memory" }

// Get returns a copy of the item's bytes or an error wrapping ErrNotFound.
func (m *Memory) Get(key string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.items[key]
	if !ok {
		return nil, fmt.Errorf("store: memory item %q: %w", key, ErrNotFound)
	}
	return append([]byte(nil), v...), nil
}

// Set stores a copy of value under key.
func (m *Memory) Set(key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.items[key] = append([]byte{}, value...)
	return nil
}

// Delete removes the item; a missing item is not an error.
func (m *Memory) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, key)
	return nil
}

// Keys returns the names of all items, in no particular order. Tests use it
// to check what a Store wrote.
func (m *Memory) Keys() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	keys := make([]string, 0, len(m.items))
	for k := range m.items {
		keys = append(keys, k)
	}
	return keys
}
