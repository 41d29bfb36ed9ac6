package wizard

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/store"
)

// clientPrefix + provider id is the credential-store item holding an OAuth
// client the user entered in a wizard.
const clientPrefix = "client:"

// ClientKey returns the credential-store item key ("client:<provider id>")
// under which the wizards keep an OAuth client the user entered: a JSON
// object {"client_id": ..., "client_secret": ...}. The item lives in the
// same Backend as the accounts (never in a file or the config), is written
// only after the client passed a token request, and applies to every
// account of that provider.
func ClientKey(providerID string) string { return clientPrefix + providerID }

// LoadClient returns the OAuth client stored under ClientKey(providerID).
// ok is false when there is none; err reports an unreadable item.
func LoadClient(b store.Backend, providerID string) (clientID, clientSecret string, ok bool, err error) {
	raw, err := b.Get(ClientKey(providerID))
	if errors.Is(err, store.ErrNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	defer clear(raw)
	var c clientItem
	if err := json.Unmarshal(raw, &c); err != nil || c.ClientID == "" {
		return "", "", false, fmt.Errorf("wizard: the stored OAuth client for %s cannot be read", providerID)
	}
	return c.ClientID, c.ClientSecret, true, nil
}

// ApplyStoredClient puts the stored OAuth client of providerID into cfg,
// replacing its client id and secret, and reports whether there was one.
// Callers resolving an account's oauth.Config use it so a client entered
// in a wizard wins over the catalog's.
func ApplyStoredClient(b store.Backend, providerID string, cfg *oauth.Config) (bool, error) {
	id, secret, ok, err := LoadClient(b, providerID)
	if !ok || err != nil {
		return false, err
	}
	cfg.ClientID, cfg.ClientSecret = id, secret
	return true, nil
}
