package main

import "github.com/mailmend/mailmend/core/store"

// newWizardFactory returns the wizards the TUI drives over st.
func (a *app) newWizardFactory(st *store.Store) wizardFactory { return nil }
