package tui

import (
	"context"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/sanitize"
)

// screenID names the screen the root model shows.
type screenID int

const (
	screenList screenID = iota
	screenAccount
	screenAdd
)

// maxParallel bounds the background diagnoses running at once.
const maxParallel = 4

// defaultTick is how often spinners and countdowns advance.
const defaultTick = 120 * time.Millisecond

// model is the root model. It owns routing, the shared data (accounts and
// diagnosis runs) and all long-running work; the screens keep only their own
// view state and ask for work with intent messages.
type model struct {
	ctx   context.Context
	deps  Deps
	title string
	now   func() time.Time

	keys    KeyMap
	styles  Styles
	isDark  bool
	noColor bool
	help    help.Model

	width, height int
	fullHelp      bool

	screen screenID
	list   listScreen
	acct   accountScreen
	add    addScreen

	accounts  []AccountView
	loading   bool
	firstLoad bool
	preloaded bool // the list came with Options.Accounts
	status    string

	runs   map[string]*diagRun
	guides map[string]string
	queue  []string
	limit  int
	gen    int

	frame     int
	ticking   bool
	tickEvery time.Duration
}

func newModel(ctx context.Context, deps Deps, opts Options) model {
	if ctx == nil {
		ctx = context.Background()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	title := opts.Title
	if title == "" {
		title = "mailmend"
	}
	m := model{
		ctx:       ctx,
		deps:      deps,
		title:     title,
		now:       now,
		keys:      DefaultKeyMap(),
		isDark:    true,
		noColor:   opts.NoColor,
		help:      help.New(),
		width:     80,
		height:    24,
		runs:      map[string]*diagRun{},
		guides:    map[string]string{},
		limit:     maxParallel,
		tickEvery: defaultTick,
		loading:   true,
		firstLoad: true,
	}
	if opts.Accounts != nil {
		m.accounts, m.loading, m.preloaded = opts.Accounts, false, true
	}
	m.setStyles()
	return m
}

func (m *model) setStyles() {
	m.styles = NewStyles(m.isDark, m.noColor)
	m.help.Styles = m.styles.Help
}

// Messages produced by commands.
type (
	accountsMsg struct {
		accounts []AccountView
		err      error
	}
	diagStartedMsg struct {
		id  string
		gen int
		ctx context.Context
		ch  <-chan CheckEvent
	}
	checkMsg struct {
		id     string
		gen    int
		ev     CheckEvent
		closed bool
	}
	wizardStartedMsg struct {
		owner screenID
		gen   int
		ctx   context.Context
		w     Wizard
		err   error
	}
	stepMsg struct {
		owner  screenID
		gen    int
		step   Step
		closed bool
	}
	removedMsg struct {
		id, email string
		err       error
	}
	guideMsg struct{ id, text string }
	tickMsg  struct{}
)

// Intent messages: a screen asks the root model to act.
type (
	openAccountMsg struct{ id string }
	diagnoseMsg    struct{ ids []string }
	repairMsg      struct{ id string }
	addMsg         struct{}
	startAddMsg    struct{ email string }
	removeMsg      struct{ id string }
	backMsg        struct{}
)

// intent wraps a message as a command.
func intent(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }

// Init asks for the background colour and loads the accounts.
func (m model) Init() tea.Cmd {
	load := m.loadAccounts()
	if m.preloaded {
		load = intent(accountsMsg{accounts: m.accounts})
	}
	return tea.Batch(tea.RequestBackgroundColor, load, m.startTick())
}

func (m model) loadAccounts() tea.Cmd {
	deps, ctx := m.deps, m.ctx
	return func() tea.Msg {
		a, err := deps.Accounts(ctx)
		return accountsMsg{accounts: a, err: err}
	}
}

// Update routes a message: terminal events first, then work results, then
// intents, then keys to the screen in front.
func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 20), max(msg.Height, 8)
		m.help.SetWidth(m.width)
		return m, nil
	case tea.BackgroundColorMsg:
		m.isDark = msg.IsDark()
		m.setStyles()
		return m, nil
	case tickMsg:
		if !m.busy() {
			m.ticking = false
			return m, nil
		}
		m.frame++
		return m, m.tickCmd()
	case accountsMsg:
		return m.onAccounts(msg)
	case diagStartedMsg, checkMsg:
		return m.onDiagnosis(msg)
	case wizardStartedMsg:
		return m.onWizardStarted(msg)
	case stepMsg:
		return m.onStep(msg)
	case removedMsg:
		return m.onRemoved(msg)
	case guideMsg:
		m.guides[msg.id] = sanitize.Text(msg.text)
		return m, nil
	case openAccountMsg, diagnoseMsg, repairMsg, addMsg, startAddMsg, removeMsg, backMsg:
		return m.onIntent(msg)
	case tea.KeyPressMsg:
		return m.onKey(msg)
	case tea.PasteMsg:
		return m.routeToScreen(msg)
	}
	return m, nil
}

// onKey handles the global keys, then passes the key to the screen.
func (m model) onKey(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if key.Matches(msg, m.keys.ForceQuit) {
		return m.quit()
	}
	capturing := m.capturing()
	if !capturing {
		switch {
		case key.Matches(msg, m.keys.Quit):
			return m.quit()
		case key.Matches(msg, m.keys.Help):
			m.fullHelp = !m.fullHelp
			return m, nil
		}
	}
	if key.Matches(msg, m.keys.Back) && m.screen != screenList {
		return m.back()
	}
	return m.routeToScreen(msg)
}

// routeToScreen passes a key or paste to the screen in front.
func (m model) routeToScreen(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	e := m.env()
	switch m.screen {
	case screenList:
		m.list, cmd = m.list.Update(msg, e)
	case screenAccount:
		m.acct, cmd = m.acct.Update(msg, e)
	case screenAdd:
		m.add, cmd = m.add.Update(msg, e)
	}
	return m, cmd
}

// capturing reports whether the screen in front takes typed text, so that
// letter keys must not act as shortcuts.
func (m model) capturing() bool {
	switch m.screen {
	case screenList:
		return m.list.capturing()
	case screenAccount:
		return m.acct.wiz.active()
	case screenAdd:
		return true
	}
	return false
}

// back cancels the work of the screen in front at once and shows the list.
func (m model) back() (tea.Model, tea.Cmd) {
	switch m.screen {
	case screenAccount:
		m.acct.wiz.stop()
		m.cancelRun(m.acct.id)
	case screenAdd:
		m.add.wiz.stop()
	}
	m.acct = accountScreen{}
	m.add = addScreen{}
	m.screen = screenList
	return m, m.pump()
}

// quit cancels everything running and ends the program.
func (m model) quit() (tea.Model, tea.Cmd) {
	m.cancelAll()
	return m, tea.Quit
}

// cancelAll stops every diagnosis and wizard.
func (m *model) cancelAll() {
	m.acct.wiz.stop()
	m.add.wiz.stop()
	for id, r := range m.runs {
		r.cancel()
		if !r.done {
			delete(m.runs, id)
		}
	}
	m.queue = nil
}

func (m model) onAccounts(msg accountsMsg) (tea.Model, tea.Cmd) {
	m.loading = false
	if msg.err != nil {
		m.status = "Could not read the accounts: " + clean(msg.err.Error())
		return m, nil
	}
	m.accounts = make([]AccountView, len(msg.accounts))
	for i, a := range msg.accounts {
		m.accounts[i] = cleanAccount(a)
	}
	known := map[string]bool{}
	for _, a := range m.accounts {
		known[a.ID] = true
	}
	for id, r := range m.runs {
		if !known[id] {
			r.cancel()
			delete(m.runs, id)
		}
	}
	m.list.clamp(m.env())
	if !m.firstLoad {
		return m, nil
	}
	m.firstLoad = false
	ids := make([]string, len(m.accounts))
	for i, a := range m.accounts {
		ids[i] = a.ID
	}
	return m.onIntent(diagnoseMsg{ids: ids})
}

func (m model) onIntent(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case openAccountMsg:
		m.screen = screenAccount
		m.acct = newAccountScreen(msg.id)
		var guide tea.Cmd
		if a, ok := m.account(msg.id); ok {
			guide = m.fetchGuide(m.causeOf(a))
		}
		if _, ok := m.runs[msg.id]; ok {
			return m, guide
		}
		return m, tea.Batch(guide, m.startRun(msg.id))
	case diagnoseMsg:
		for _, id := range msg.ids {
			if r, ok := m.runs[id]; ok && !r.done {
				continue
			}
			if !contains(m.queue, id) {
				m.queue = append(m.queue, id)
			}
		}
		if len(msg.ids) == 1 && m.screen == screenAccount && msg.ids[0] == m.acct.id {
			// The user asked for this one: start it now.
			m.queue = remove(m.queue, msg.ids[0])
			return m, m.startRun(msg.ids[0])
		}
		return m, m.pump()
	case repairMsg:
		a, ok := m.account(msg.id)
		if !ok {
			return m, nil
		}
		if m.screen != screenAccount || m.acct.id != msg.id {
			m.screen = screenAccount
			m.acct = newAccountScreen(msg.id)
		}
		// A repair replaces a running check of the same account.
		m.cancelRun(msg.id)
		c := m.causeOf(a)
		name := causeTitle(c)
		if r, ok := m.runs[msg.id]; ok && r.done && r.final.Cause == c && r.final.CauseTitle != "" {
			name = r.final.CauseTitle
		}
		return m, m.startWizard(screenAccount, msg.id, c, name)
	case addMsg:
		m.screen = screenAdd
		m.add = newAddScreen()
		return m, nil
	case startAddMsg:
		return m, m.startWizard(screenAdd, msg.email, "", "")
	case removeMsg:
		a, ok := m.account(msg.id)
		if !ok {
			return m, nil
		}
		m.cancelRun(msg.id)
		deps, ctx, id, email := m.deps, m.ctx, a.ID, a.Email
		return m, func() tea.Msg { return removedMsg{id: id, email: email, err: deps.Remove(ctx, id)} }
	case backMsg:
		return m.back()
	}
	return m, nil
}

func (m model) onRemoved(msg removedMsg) (tea.Model, tea.Cmd) {
	if msg.err != nil {
		m.status = "Could not remove " + msg.email + ": " + clean(msg.err.Error())
		return m, nil
	}
	delete(m.runs, msg.id)
	m.status = "Removed " + msg.email + "."
	if m.screen == screenAccount && m.acct.id == msg.id {
		m.screen = screenList
		m.acct = accountScreen{}
	}
	return m, m.loadAccounts()
}

// account finds an account by id.
func (m model) account(id string) (AccountView, bool) {
	for _, a := range m.accounts {
		if a.ID == id {
			return a, true
		}
	}
	return AccountView{}, false
}

// causeOf is the cause to repair: the live verdict if there is one, else the
// stored one.
func (m model) causeOf(a AccountView) string {
	if r, ok := m.runs[a.ID]; ok && r.done && r.final.Err == nil {
		if r.final.Healthy {
			return ""
		}
		return r.final.Cause
	}
	return a.Cause
}

// busy reports whether anything animates: a running check, an account load
// or a wizard step that waits.
func (m model) busy() bool {
	if m.loading {
		return true
	}
	for _, r := range m.runs {
		if !r.done {
			return true
		}
	}
	return m.acct.wiz.animating() || m.add.wiz.animating()
}

// startTick starts the animation clock unless it runs already.
func (m *model) startTick() tea.Cmd {
	if m.ticking {
		return nil
	}
	m.ticking = true
	return m.tickCmd()
}

func (m model) tickCmd() tea.Cmd {
	return tea.Tick(m.tickEvery, func(time.Time) tea.Msg { return tickMsg{} })
}

// env is what the screens read from the root model.
func (m model) env() env {
	return env{
		st: m.styles, keys: m.keys, now: m.now(), frame: m.frame,
		accounts: m.accounts, runs: m.runs, guides: m.guides, width: m.width, height: m.bodyHeight(),
		loading: m.loading,
	}
}

// env carries the shared, read-only data a screen needs to update and draw.
type env struct {
	st       Styles
	keys     KeyMap
	now      time.Time
	frame    int
	accounts []AccountView
	runs     map[string]*diagRun
	guides   map[string]string
	width    int
	height   int
	loading  bool
}

func (e env) account(id string) (AccountView, bool) {
	for _, a := range e.accounts {
		if a.ID == id {
			return a, true
		}
	}
	return AccountView{}, false
}

// guide returns the fetched guide of a cause, or the catalog's fix list
// while it is not there.
func (e env) guide(id string) string {
	if g := e.guides[id]; g != "" {
		return g
	}
	var b strings.Builder
	for _, f := range cause.Info(cause.ID(id)).Fix {
		b.WriteString("- " + f + "\n")
	}
	return b.String()
}

// fetchGuide loads a cause's guide once.
func (m *model) fetchGuide(id string) tea.Cmd {
	if id == "" {
		return nil
	}
	if _, ok := m.guides[id]; ok {
		return nil
	}
	m.guides[id] = ""
	deps := m.deps
	return func() tea.Msg { return guideMsg{id: id, text: deps.Guide(id)} }
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (e env) spinner() string { return spinnerFrames[e.frame%len(spinnerFrames)] }

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func remove(s []string, v string) []string {
	out := s[:0:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}
