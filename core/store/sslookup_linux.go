//go:build linux

package store

import (
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
)

// Secret Service names (freedesktop.org Secret Service API).
const (
	ssName     = "org.freedesktop.secrets"
	ssPath     = dbus.ObjectPath("/org/freedesktop/secrets")
	ssIface    = "org.freedesktop.Secret.Service"
	ssLoginDir = "/org/freedesktop/secrets/collection/login/"
)

// ssSecret is the Secret Service's Secret struct.
type ssSecret struct {
	Session     dbus.ObjectPath
	Parameters  []byte
	Value       []byte
	ContentType string
}

// lookup reads items with two calls each (SearchItems, GetSecrets) over one
// plain session kept for the process, where go-keyring makes six (unlock,
// search, open session, unlock, get, close) for every read. Anything out of
// the ordinary (a locked item, an error) is left to go-keyring, which knows
// how to prompt and how to report it.
var lookup struct {
	mu      sync.Mutex
	session dbus.ObjectPath
}

// fastGet returns the item's value, or ok false when the caller should
// read it through go-keyring instead.
func fastGet(service, user string) (value string, ok bool, err error) {
	conn, err := dbus.SessionBus()
	if err != nil {
		return "", false, nil
	}
	svc := conn.Object(ssName, ssPath)
	var unlocked, locked []dbus.ObjectPath
	if err := svc.Call(ssIface+".SearchItems", 0, map[string]string{"username": user, "service": service}).Store(&unlocked, &locked); err != nil {
		return "", false, nil
	}
	item := pickItem(unlocked)
	if item == "" {
		// Not found, or locked: go-keyring tells which (a locked
		// collection may hide its items from the search).
		return "", false, nil
	}
	session, err := plainSession(svc)
	if err != nil {
		return "", false, nil
	}
	var secrets map[dbus.ObjectPath]ssSecret
	if err := svc.Call(ssIface+".GetSecrets", 0, []dbus.ObjectPath{item}, session).Store(&secrets); err != nil {
		lookup.mu.Lock()
		lookup.session = "" // the session may have gone; open a new one next time
		lookup.mu.Unlock()
		return "", false, nil
	}
	s, found := secrets[item]
	if !found {
		return "", false, nil
	}
	return string(s.Value), true, nil
}

// pickItem prefers the item in the login collection, where go-keyring
// writes.
func pickItem(items []dbus.ObjectPath) dbus.ObjectPath {
	for _, it := range items {
		if strings.HasPrefix(string(it), ssLoginDir) {
			return it
		}
	}
	return ""
}

func plainSession(svc dbus.BusObject) (dbus.ObjectPath, error) {
	lookup.mu.Lock()
	defer lookup.mu.Unlock()
	if lookup.session != "" {
		return lookup.session, nil
	}
	var out dbus.Variant
	var path dbus.ObjectPath
	if err := svc.Call(ssIface+".OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&out, &path); err != nil {
		return "", err
	}
	lookup.session = path
	return path, nil
}

func (goKeyring) Get(service, user string) (string, error) {
	if v, ok, err := fastGet(service, user); ok {
		return v, err
	}
	return keyring.Get(service, user)
}
