package main

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/mailmend/mailmend/core/config"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/store"
)

// app holds what every command shares: the loaded config, the provider
// catalog and the credential store, each made once on first use.
type app struct {
	env        *sysEnv
	configPath string
	storeKind  string

	cfg     config.Config
	catalog *provider.Catalog

	storeOnce sync.Once
	st        *store.Store
	stErr     error

	// openStore, when set, replaces the configured store (tests, demo).
	openStore func() (*store.Store, error)
	// resolver, when set, replaces the system DNS resolver for detection.
	resolver provider.Resolver
	// doctorDeps, when set, adjusts the doctor's dependencies (tests, demo).
	doctorDeps func(*doctor.Deps)
}

// init loads the config file and the provider catalog.
func (a *app) init() error {
	cfg, err := config.Load(a.configPath)
	if err != nil {
		return withCode(exitUsage, err)
	}
	a.cfg = cfg
	cat, err := cfg.Catalog()
	if err != nil {
		return withCode(exitUsage, err)
	}
	a.catalog = cat
	if a.storeKind != "" {
		switch a.storeKind {
		case "keyring", "file":
		default:
			return usageErrorf("--store %q: use \"keyring\" or \"file\"", a.storeKind)
		}
	}
	return nil
}

// store opens the credential store chosen by --store or the config.
func (a *app) store() (*store.Store, error) {
	a.storeOnce.Do(func() {
		if a.openStore != nil {
			a.st, a.stErr = a.openStore()
			return
		}
		kind := a.storeKind
		if kind == "" {
			kind = a.cfg.Store
		}
		if kind == "" {
			kind = "keyring"
		}
		lock, err := config.LockPath()
		if err != nil {
			a.stErr = fmt.Errorf("%w: %v", store.ErrUnavailable, err)
			return
		}
		a.st, a.stErr = store.Open(kind, store.OpenOptions{
			Service:    "mailmend",
			FilePath:   a.cfg.StoreFile,
			LockPath:   lock,
			Passphrase: a.passphrase,
		})
	})
	return a.st, a.stErr
}

// passphrase returns the file store's passphrase from MAILMEND_PASSPHRASE or
// a masked prompt.
func (a *app) passphrase() (string, error) {
	if p := a.env.Getenv("MAILMEND_PASSPHRASE"); p != "" {
		return p, nil
	}
	if !a.env.StdinTTY {
		return "", fmt.Errorf("%w: the file store needs a passphrase: set MAILMEND_PASSPHRASE or run in a terminal", store.ErrUnavailable)
	}
	p, err := a.env.ReadSecret("Passphrase for the mailmend file store: ")
	if err != nil {
		return "", fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	if strings.TrimSpace(p) == "" {
		return "", fmt.Errorf("%w: empty passphrase", store.ErrUnavailable)
	}
	return p, nil
}

// isStoreError reports whether err means the credential store is unusable.
func isStoreError(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrCorrupt)
}

// storeErr turns a store failure into an exit-3 error with advice.
func storeErr(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		msg := err.Error()
		if strings.Contains(msg, "keyring") && !strings.Contains(msg, "--store file") {
			msg += "\n  Start a Secret Service (gnome-keyring-daemon, or KeePassXC with its Secret Service on),\n  or keep accounts in an encrypted file instead: mailmend --store file ..."
		}
		return withCode(exitStore, errors.New(msg))
	}
	if errors.Is(err, store.ErrCorrupt) {
		return withCode(exitStore, fmt.Errorf("the account index is corrupt and was left as it is: %v\n  Look at it before changing anything: keyring service \"mailmend\", item \"index\" (or the --store file).", err))
	}
	return err
}
