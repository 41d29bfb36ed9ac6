package wizard_test

import (
	"context"
	"fmt"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/store"
	"github.com/mailmend/mailmend/core/wizard"
)

// A user interface reads steps with Next and answers the ones that take an
// answer; the wizard advances by itself through the others.
func Example() {
	ctx := context.Background()
	st := store.New(store.NewMemory(), "")
	a, _ := st.Save(ctx, account.Account{Email: "ann@example.com", Provider: "generic", Auth: account.Password}, &store.Secret{Password: "old"})
	w, err := wizard.For(cause.Unknown, wizard.Env{Account: a, Store: st})
	if err != nil {
		panic(err)
	}
	for {
		s, err := w.Next(ctx)
		if err != nil {
			break // wizard.ErrClosed: the wizard ended
		}
		switch s := s.(type) {
		case wizard.Explain:
			fmt.Println("explain:", s.Title)
			_ = w.Submit("")
		case wizard.Done:
			fmt.Println("done, ok:", s.OK)
		}
	}
	// Output:
	// explain: The cause could not be recognised
	// done, ok: false
}
