package main

import (
	"github.com/mailmend/mailmend/core/demo"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/store"
)

// newWizardFactory returns the wizards the TUI drives over st.
func (a *app) newWizardFactory(st *store.Store) wizardFactory { return nil }

// newDemoWizards returns the wizards the demo's TUI drives.
func (a *app) newDemoWizards(d *demo.Demo, deps doctor.Deps) wizardFactory { return nil }
