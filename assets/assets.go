// Package assets holds the files mailmend ships inside its binary: the
// built-in provider catalog (providers.toml). The bytes are read-only by
// contract: callers parse them and never modify the slices.
package assets

import "embed"

// ProvidersTOML is the built-in provider catalog, in the same schema as the
// [[provider]] tables of the config file. core/provider parses it.
//
//go:embed providers.toml
var ProvidersTOML []byte

// Causes holds one guide per cause id, causes/<id>.md, each starting with a
// level-1 heading equal to the cause's title (core/cause Info(id).Title).
//
//go:embed causes/*.md
var Causes embed.FS
