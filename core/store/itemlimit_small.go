//go:build darwin || windows

package store

// ItemLimit is the default Keyring.Chunk: macOS's keychain and Windows's
// Credential Manager limit an item to about 2.5-3 KB.
const ItemLimit = ChunkSize
