package main

import (
	"context"
	"fmt"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/store"
)

// accessToken returns a cached access token valid for at least 60 s more.
func (ap *app) accessToken(ctx context.Context, st *store.Store, a account.Account) (string, error) {
	sec, err := st.Secret(ctx, a.ID)
	if err != nil {
		return "", storeErr(err)
	}
	if sec.Token != nil && sec.Token.AccessToken != "" && ap.env.Now().Add(60e9).Before(sec.Token.Expiry) {
		return sec.Token.AccessToken, nil
	}
	return "", withCode(exitReconnect, fmt.Errorf("%s: the access token expired and this build cannot refresh it; run: mailmend reconnect %s", a.Email, a.Email))
}

func runAddOAuth(ctx context.Context, o *addOptions, p provider.Provider, a account.Account) error {
	return usageErrorf("--auth oauth2 is not supported by this build yet; use an app password (--auth password)")
}
