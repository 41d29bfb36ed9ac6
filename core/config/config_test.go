package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/config"
	"github.com/mailmend/mailmend/core/provider"
)

// isolate points every environment variable the package reads at a temp
// directory and returns it.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv(config.EnvConfig, "")
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("XDG_STATE_HOME", "")
	return dir
}

func write(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadMissingFileGivesDefaults(t *testing.T) {
	dir := isolate(t)
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	path := filepath.Join(dir, "nope", "config.toml")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("Load of a missing file: %v", err)
	}
	if cfg.Store != config.StoreKeyring || cfg.OAuth.RedirectPort != 0 || len(cfg.Providers) != 0 || cfg.Path != path {
		t.Fatalf("defaults = %+v", cfg)
	}
	if want := filepath.Join(dir, "data", "mailmend", "accounts.age"); cfg.StoreFile != want {
		t.Fatalf("StoreFile = %q, want %q", cfg.StoreFile, want)
	}
}

func TestLoadEmptyPathUsesDefaultPath(t *testing.T) {
	dir := isolate(t)
	p := write(t, dir, "store = \"memory\"\n")
	t.Setenv(config.EnvConfig, p)
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != config.StoreMemory || cfg.Path != p {
		t.Fatalf("Load(\"\") did not read %s: %+v", p, cfg)
	}
}

func TestLoadFullFile(t *testing.T) {
	dir := isolate(t)
	body := `# mailmend config
store = "file"
store_file = "~/secrets/accounts.age"

[oauth]
redirect_port = 8765

[[provider]]
id = "google"
[provider.oauth2]
client_id = "123-abc.apps.example"
client_secret = "not-really-secret"

[[provider]]
id = "corp"
name = "Corp Mail"
domains = ["corp.example"]
imap = "mail.corp.example:993"
imap_security = "tls"
smtp = "mail.corp.example:465"
smtp_security = "tls"
auth = ["oauth2", "password"]
[provider.oauth2]
auth_url = "https://id.corp.example/authorize"
token_url = "https://id.corp.example/token"
scopes = ["mail", "offline_access"]
client_id = "mailmend"
`
	cfg, err := config.Load(write(t, dir, body))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Store != config.StoreFile || cfg.OAuth.RedirectPort != 8765 {
		t.Fatalf("cfg = %+v", cfg)
	}
	if want := filepath.Join(dir, "home", "secrets", "accounts.age"); cfg.StoreFile != want {
		t.Fatalf("StoreFile = %q, want %q", cfg.StoreFile, want)
	}
	if len(cfg.Providers) != 2 || cfg.Providers[0].ID != "google" || cfg.Providers[0].IMAP != "" {
		t.Fatalf("Providers must be kept as written: %+v", cfg.Providers)
	}
	cat, err := cfg.Catalog()
	if err != nil {
		t.Fatalf("Catalog: %v", err)
	}
	g, _ := cat.Get("google")
	if g.OAuth2.ClientID != "123-abc.apps.example" || g.IMAP != "imap.gmail.com:993" {
		t.Fatalf("merged google = %+v %+v", g, g.OAuth2)
	}
	corp, ok := cat.Get("corp")
	if !ok || corp.DefaultAuth() != account.OAuth2 {
		t.Fatalf("corp = %+v", corp)
	}
}

func TestLoadRelativeStoreFile(t *testing.T) {
	dir := isolate(t)
	cfg, err := config.Load(write(t, dir, "store = \"file\"\nstore_file = \"sub/a.age\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "sub", "a.age"); cfg.StoreFile != want {
		t.Fatalf("StoreFile = %q, want %q", cfg.StoreFile, want)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []string // substrings; "@" is replaced by the file path
	}{
		{"malformed", "store = \"keyring\"\n\n[oauth\nredirect_port = 1\n", []string{"config: @:3:"}},
		{"unterminated string", "store = \"keyring\nstore_file = \"x\"\n", []string{"config: @:1:"}},
		{"unknown top key", "store = \"keyring\"\nstor = \"file\"\n", []string{"config: @:2:1:", "unknown key stor"}},
		{"unknown nested key", "[oauth]\nredirect_prot = 8080\n", []string{"@:2:", "unknown key oauth.redirect_prot"}},
		{"unknown provider key", "[[provider]]\nid = \"google\"\nclientid = \"x\"\n", []string{"@:3:", "unknown key provider.clientid"}},
		{"wrong type", "[oauth]\nredirect_port = \"8080\"\n", []string{"config: @:2:", "oauth.redirect_port: expected an integer"}},
		{"bad store", "\nstore = \"cloud\"\n", []string{"config: @:2: store:", "cloud"}},
		{"bad port", "[oauth]\nredirect_port = 70000\n", []string{"config: @:2: oauth.redirect_port"}},
		{"bad tilde", "store_file = \"~bob/a.age\"\n", []string{"config: @:1: store_file"}},
		{"invalid provider field", "store = \"keyring\"\n\n[[provider]]\nid = \"corp\"\nname = \"Corp\"\nimap = \"mail.corp.example:993\"\nimap_security = \"ssl\"\n",
			[]string{"config: @:3: provider: corp: imap_security:", "ssl"}},
		{"incomplete new provider", "[[provider]]\nid = \"ok\"\nname = \"x\"\ndomains=[\"ok.example\"]\nimap = \"a.example:993\"\nimap_security = \"tls\"\nsmtp = \"a.example:465\"\nsmtp_security = \"tls\"\nauth = [\"password\"]\n\n[[provider]]\nid = \"corp\"\nname = \"Corp\"\nimap = \"mail.corp.example:993\"\nimap_security = \"tls\"\nauth = [\"password\"]\n",
			[]string{"config: @:11: provider: corp: smtp: missing"}},
		{"override breaks built-in", "[[provider]]\nid = \"yahoo\"\nauth = [\"oauth2\", \"bogus\"]\n", []string{"config: @:1: provider: yahoo: auth:", "bogus"}},
		{"oauth http remote", "[[provider]]\nid = \"google\"\n[provider.oauth2]\ntoken_url = \"http://evil.example/token\"\n",
			[]string{"config: @:1: provider: google: oauth2.token_url:", "https"}},
		{"duplicate provider", "[[provider]]\nid = \"google\"\n[[provider]]\nid = \"google\"\n", []string{"config: @:3: provider: google: id:", "@:1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := isolate(t)
			path := write(t, dir, tc.body)
			_, err := config.Load(path)
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "@", path)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadProviderErrorIsFieldError(t *testing.T) {
	dir := isolate(t)
	_, err := config.Load(write(t, dir, "[[provider]]\nid = \"icloud\"\nsmtp = \"smtp.mail.me.com\"\n"))
	var fe *provider.FieldError
	if !errors.As(err, &fe) || fe.ID != "icloud" || fe.Field != "smtp" {
		t.Fatalf("want FieldError icloud/smtp, got %v", err)
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := isolate(t)
	// A directory where the file should be: reading fails with something
	// other than "not exist", which must not be mistaken for defaults.
	p := filepath.Join(dir, "config.toml")
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(p); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Fatalf("want config: error, got %v", err)
	}
}

func TestPaths(t *testing.T) {
	t.Run("xdg set", func(t *testing.T) {
		dir := isolate(t)
		t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "cfg"))
		t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
		t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
		check(t, config.DefaultPath, filepath.Join(dir, "cfg", "mailmend", "config.toml"))
		check(t, config.StateDir, filepath.Join(dir, "state", "mailmend"))
		check(t, config.DataDir, filepath.Join(dir, "data", "mailmend"))
		check(t, config.LockPath, filepath.Join(dir, "state", "mailmend", "store.lock"))
	})
	t.Run("home fallbacks", func(t *testing.T) {
		dir := isolate(t)
		home := filepath.Join(dir, "home")
		check(t, config.DefaultPath, filepath.Join(home, ".config", "mailmend", "config.toml"))
		check(t, config.StateDir, filepath.Join(home, ".local", "state", "mailmend"))
		check(t, config.DataDir, filepath.Join(home, ".local", "share", "mailmend"))
		check(t, config.LockPath, filepath.Join(home, ".local", "state", "mailmend", "store.lock"))
		d, err := config.Default()
		if err != nil || d.StoreFile != filepath.Join(home, ".local", "share", "mailmend", "accounts.age") || d.Store != config.StoreKeyring {
			t.Fatalf("Default = %+v, %v", d, err)
		}
	})
	t.Run("relative xdg ignored", func(t *testing.T) {
		dir := isolate(t)
		t.Setenv("XDG_CONFIG_HOME", "relative/cfg")
		t.Setenv("XDG_STATE_HOME", "state")
		home := filepath.Join(dir, "home")
		check(t, config.DefaultPath, filepath.Join(home, ".config", "mailmend", "config.toml"))
		check(t, config.StateDir, filepath.Join(home, ".local", "state", "mailmend"))
	})
	t.Run("MAILMEND_CONFIG wins", func(t *testing.T) {
		dir := isolate(t)
		t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "cfg"))
		t.Setenv(config.EnvConfig, filepath.Join(dir, "elsewhere.toml"))
		check(t, config.DefaultPath, filepath.Join(dir, "elsewhere.toml"))
	})
	t.Run("no home", func(t *testing.T) {
		isolate(t)
		t.Setenv("HOME", "")
		for name, f := range map[string]func() (string, error){
			"DefaultPath": config.DefaultPath, "StateDir": config.StateDir, "DataDir": config.DataDir, "LockPath": config.LockPath,
		} {
			if p, err := f(); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("%s = %q, %v; want a config: error", name, p, err)
			}
		}
		if _, err := config.Load(""); err == nil {
			t.Error("Load(\"\") without home: want error")
		}
	})
}

func check(t *testing.T, f func() (string, error), want string) {
	t.Helper()
	got, err := f()
	if err != nil || got != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
}
