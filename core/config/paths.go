package config

import (
	"errors"
	"os"
	"path/filepath"
)

// appName is the directory name under the XDG base directories.
const appName = "mailmend"

// DefaultPath returns the config file path: $MAILMEND_CONFIG when set, else
// $XDG_CONFIG_HOME/mailmend/config.toml when XDG_CONFIG_HOME is an absolute
// path, else ~/.config/mailmend/config.toml.
func DefaultPath() (string, error) {
	if p := os.Getenv(EnvConfig); p != "" {
		return p, nil
	}
	dir, err := xdgDir("XDG_CONFIG_HOME", ".config")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, appName, "config.toml"), nil
}

// StateDir returns $XDG_STATE_HOME/mailmend, or ~/.local/state/mailmend
// when XDG_STATE_HOME is unset or not absolute. It does not create it.
func StateDir() (string, error) {
	dir, err := xdgDir("XDG_STATE_HOME", filepath.Join(".local", "state"))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, appName), nil
}

// DataDir returns $XDG_DATA_HOME/mailmend, or ~/.local/share/mailmend when
// XDG_DATA_HOME is unset or not absolute. It does not create it.
func DataDir() (string, error) {
	dir, err := xdgDir("XDG_DATA_HOME", filepath.Join(".local", "share"))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, appName), nil
}

// LockPath returns StateDir()/store.lock, the cross-process lock file that
// guards store writes and token refreshes.
func LockPath() (string, error) {
	dir, err := StateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "store.lock"), nil
}

// xdgDir returns $env when it is an absolute path (the XDG spec says to
// ignore relative ones), else HOME/fallback.
func xdgDir(env, fallback string) (string, error) {
	if v := os.Getenv(env); v != "" && filepath.IsAbs(v) {
		return filepath.Clean(v), nil
	}
	h, err := home()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, fallback), nil
}

// home returns the user's home directory ($HOME on Unix).
func home() (string, error) {
	h, err := os.UserHomeDir()
	if err != nil || h == "" {
		return "", errors.New("config: no home directory: set HOME, or XDG_CONFIG_HOME/XDG_DATA_HOME/XDG_STATE_HOME")
	}
	return h, nil
}
