//go:build !darwin && !windows

package store

// ItemLimit is the default Keyring.Chunk: the Secret Service has no
// practical item size limit, so items are split only past 4 MiB, keeping
// the account list one read even with thousands of accounts.
const ItemLimit = 4 << 20
