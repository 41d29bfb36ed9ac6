// Package config reads mailmend's config file and knows where mailmend keeps
// its files. The file is TOML, read strictly: a key mailmend does not know is
// an error, so a typo never goes silently unused.
//
//	store = "keyring"            # keyring (default) | file | memory
//	store_file = "~/x/accounts.age"  # for store = "file"; default DataDir()/accounts.age
//
//	[oauth]
//	redirect_port = 0            # loopback redirect port; 0 = any free port
//
//	[[provider]]                 # custom providers / overrides, schema of
//	id = "corp"                  # assets/providers.toml (see core/provider)
//	...
//
// A missing file means all defaults. The path helpers only read the
// environment (MAILMEND_CONFIG, XDG_* and HOME); the package keeps no global
// state.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mailmend/mailmend/core/provider"
)

// EnvConfig names the environment variable that overrides the config path.
const EnvConfig = "MAILMEND_CONFIG"

// The credential store kinds (Config.Store).
const (
	// StoreKeyring keeps secrets in the OS keyring (Secret Service, Keychain,
	// Credential Manager). The default.
	StoreKeyring = "keyring"
	// StoreFile keeps them in an age-encrypted file (Config.StoreFile).
	StoreFile = "file"
	// StoreMemory keeps them in memory only, for tests and the demo.
	StoreMemory = "memory"
)

// Config is the parsed config file with defaults filled in.
type Config struct {
	// Store is StoreKeyring, StoreFile or StoreMemory.
	Store string `toml:"store"`
	// StoreFile is the absolute path of the age-encrypted store; a leading
	// "~/" means the home directory and a relative path is taken relative to
	// the config file's directory.
	StoreFile string `toml:"store_file"`
	// OAuth holds settings of the OAuth flows.
	OAuth OAuth `toml:"oauth"`
	// Providers are the [[provider]] tables as written: overrides of
	// built-in providers (only the fields they set) and new providers. Each
	// has been checked against the built-in catalog; Catalog merges them.
	Providers []provider.Provider `toml:"provider"`
	// Path is the file the config was read from, or where it would be when
	// it does not exist. Not a TOML key.
	Path string `toml:"-"`
}

// OAuth holds the [oauth] table.
type OAuth struct {
	// RedirectPort is the loopback port of the redirect URI; 0 picks a free
	// port for each flow.
	RedirectPort int `toml:"redirect_port"`
}

// Default returns the configuration used when there is no config file:
// keyring store, StoreFile DataDir()/accounts.age, redirect port 0, no custom
// providers. It fails only when no home directory can be found.
func Default() (Config, error) {
	data, err := DataDir()
	if err != nil {
		return Config{}, err
	}
	return Config{Store: StoreKeyring, StoreFile: filepath.Join(data, "accounts.age")}, nil
}

// Load reads the config file at path; "" means DefaultPath(). A missing file
// gives Default() and no error. Errors start with "config: " and name the
// file and, where known, the line (and column): malformed TOML, an unknown
// key (named in full, like "oauth.redirect_prot"), a value of the wrong type,
// an unknown store kind, a port outside 0-65535, and any invalid provider
// (naming the provider and field, and wrapping a *provider.FieldError).
func Load(path string) (Config, error) {
	if path == "" {
		p, err := DefaultPath()
		if err != nil {
			return Config{}, err
		}
		path = p
	}
	cfg, err := Default()
	if err != nil {
		return Config{}, err
	}
	cfg.Path = path
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defStoreFile := cfg.StoreFile
	cfg.StoreFile = ""
	if err := provider.DecodeStrict(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("config: %s", provider.ErrorAt(path, err))
	}
	cfg.Path = path
	at := func(key string) string {
		if n := keyLine(data, key); n > 0 {
			return fmt.Sprintf("%s:%d", path, n)
		}
		return path
	}
	switch cfg.Store {
	case StoreKeyring, StoreFile, StoreMemory:
	default:
		return Config{}, fmt.Errorf("config: %s: store: %q is not keyring, file or memory", at("store"), cfg.Store)
	}
	if cfg.StoreFile == "" {
		cfg.StoreFile = defStoreFile
	} else {
		sf, err := expandPath(cfg.StoreFile, filepath.Dir(path))
		if err != nil {
			return Config{}, fmt.Errorf("config: %s: store_file: %v", at("store_file"), err)
		}
		cfg.StoreFile = sf
	}
	if p := cfg.OAuth.RedirectPort; p < 0 || p > 65535 {
		return Config{}, fmt.Errorf("config: %s: oauth.redirect_port: %d is not 0-65535", at("redirect_port"), p)
	}
	if err := checkProviders(path, data, cfg.Providers); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// checkProviders validates each [[provider]] entry on its own (fields it
// sets), then merged onto the built-in catalog (completeness), and reports
// the line of the entry's header.
func checkProviders(path string, data []byte, ps []provider.Provider) error {
	lines := provider.TableLines(data, "provider")
	where := func(i int) string {
		if i >= 0 && i < len(lines) {
			return fmt.Sprintf("%s:%d", path, lines[i])
		}
		return path
	}
	located := func(i int, err error) error {
		var fe *provider.FieldError
		if errors.As(err, &fe) {
			fe.Where = ""
		}
		return fmt.Errorf("config: %s: %w", where(i), err)
	}
	seen := map[string]int{}
	for i, p := range ps {
		if err := p.ValidatePartial(); err != nil {
			return located(i, err)
		}
		if j, dup := seen[p.ID]; dup {
			return located(i, &provider.FieldError{ID: p.ID, Field: "id",
				Problem: fmt.Sprintf("already used by the provider at %s", where(j))})
		}
		seen[p.ID] = i
	}
	cat, err := provider.Builtin()
	if err != nil {
		return fmt.Errorf("config: built-in catalog: %w", err)
	}
	if err := cat.Merge(ps); err != nil {
		var fe *provider.FieldError
		i := -1
		if errors.As(err, &fe) {
			if j, ok := seen[fe.ID]; ok {
				i = j
			}
		}
		return located(i, err)
	}
	return nil
}

// Catalog returns the built-in provider catalog with c.Providers merged in.
func (c Config) Catalog() (*provider.Catalog, error) {
	cat, err := provider.Builtin()
	if err != nil {
		return nil, fmt.Errorf("config: built-in catalog: %w", err)
	}
	if err := cat.Merge(c.Providers); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cat, nil
}

// keyLine returns the 1-based line of the first "key =" assignment in data,
// or 0.
func keyLine(data []byte, key string) int {
	re := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	for i, line := range strings.Split(string(data), "\n") {
		if re.MatchString(line) {
			return i + 1
		}
	}
	return 0
}

// expandPath turns "~/x" into HOME/x and a relative path into one under base.
func expandPath(p, base string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := home()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
	}
	if strings.HasPrefix(p, "~") {
		return "", fmt.Errorf("%q: only ~/ (the own home directory) is understood", p)
	}
	if !filepath.IsAbs(p) {
		return filepath.Join(base, p), nil
	}
	return filepath.Clean(p), nil
}
