// Package assets holds the files mailmend ships inside its binary: the
// built-in provider catalog (providers.toml). The bytes are read-only by
// contract: callers parse them and never modify the slices.
package assets

import _ "embed"

// ProvidersTOML is the built-in provider catalog, in the same schema as the
// [[provider]] tables of the config file. core/provider parses it.
//
//go:embed providers.toml
var ProvidersTOML []byte
