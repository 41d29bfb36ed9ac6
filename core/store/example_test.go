package store_test

import (
	"context"
	"fmt"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/store"
)

// Saving an account twice under the same address (in any case) updates it
// in place: the id stays, and a nil secret keeps the stored one.
func ExampleStore_Save() {
	ctx := context.Background()
	s, err := store.Open("memory", store.OpenOptions{})
	if err != nil {
		panic(err)
	}
	a := account.Account{
		Email: "ann@example.org", Provider: "generic", Auth: account.Password,
		IMAP: account.Endpoint{Host: "imap.example.org", Port: 993, Security: account.TLS},
	}
	first, _ := s.Save(ctx, a, &store.Secret{Password: "app-password"})
	a.Email = "Ann@Example.org"
	a.IMAP.Port = 143
	a.IMAP.Security = account.StartTLS
	again, _ := s.Save(ctx, a, nil)
	sec, _ := s.Secret(ctx, again.ID)
	list, _ := s.List(ctx)
	fmt.Println(first.ID == again.ID, len(list), list[0].IMAP, sec.Password != "")
	// Output: true 1 imap.example.org:143 (starttls) true
}

// A refresh reads the secret, refreshes and saves the rotated token while
// holding the store's lock, so two processes never both use the old
// refresh token.
func ExampleStore_Tx() {
	ctx := context.Background()
	s := store.New(store.NewMemory(), "")
	a, _ := s.Save(ctx, account.Account{Email: "bo@example.org", Provider: "google", Auth: account.OAuth2},
		&store.Secret{Token: &store.Token{RefreshToken: "rt-1"}})
	err := s.Tx(ctx, func(tx *store.Tx) error {
		sec, err := tx.Secret(ctx, a.ID)
		if err != nil {
			return err
		}
		sec.Token.RefreshToken = "rt-2" // what the provider rotated it to
		return tx.SetSecret(ctx, a.ID, sec)
	})
	sec, _ := s.Secret(ctx, a.ID)
	fmt.Println(err, sec.Token.RefreshToken)
	// Output: <nil> rt-2
}
