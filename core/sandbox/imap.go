package sandbox

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

func (sb *Sandbox) newIMAPServer() *imapserver.Server {
	return imapserver.New(&imapserver.Options{
		NewSession: func(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &imapSession{sb: sb, conn: c, port: portUser(c.NetConn())}, nil, nil
		},
		Caps:      imap.CapSet{imap.CapIMAP4rev1: {}},
		Logger:    logWriter{sb.opts.Logf},
		TLSConfig: sb.goodTLS,
	})
}

// imapSession is one IMAP connection: the sandbox decides the login, the
// in-memory server serves the mailbox afterwards.
type imapSession struct {
	*imapmemserver.UserSession // nil until logged in

	sb   *Sandbox
	conn *imapserver.Conn
	port *user
	// notConnected is Exchange with IMAP switched off: logins pass, every
	// command after them fails.
	notConnected bool
}

var _ imapserver.SessionSASL = (*imapSession)(nil)

func (s *imapSession) flavour() Flavour {
	if s.port != nil {
		return s.port.spec.Flavour
	}
	return Google
}

func (s *imapSession) Close() error {
	if s.UserSession != nil {
		return s.UserSession.Close()
	}
	return nil
}

// fail writes a failure's untagged line (Gmail's WEBALERT) and returns the
// tagged error for imapserver to send.
func (s *imapSession) fail(f *imapFail) error {
	if f.untagged != "" {
		_ = s.conn.NetConn().SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, _ = s.conn.NetConn().Write([]byte(f.untagged + "\r\n"))
	}
	return f.err()
}

func (s *imapSession) loggedIn(v verdict) {
	s.UserSession = imapmemserver.NewUserSession(v.u.memUser)
	s.sb.mu.Lock()
	s.notConnected = v.flavour == Microsoft && v.u.scenario == ProtocolDisabled
	s.sb.mu.Unlock()
}

func (s *imapSession) Login(username, password string) error {
	v := s.sb.checkPassword(protoIMAP, s.port, "LOGIN", username, password)
	if !v.ok {
		return s.fail(v.imap)
	}
	s.loggedIn(v)
	return nil
}

func (s *imapSession) AuthenticateMechanisms() []string {
	if s.flavour() == Microsoft {
		return []string{"PLAIN", "XOAUTH2"}
	}
	return []string{"XOAUTH2", "PLAIN", "OAUTHBEARER"}
}

func (s *imapSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return s.fail(imapLoginFail(s.flavour(), Healthy, "AUTHENTICATE", false, false))
			}
			v := s.sb.checkPassword(protoIMAP, s.port, "AUTHENTICATE", username, password)
			if !v.ok {
				return s.fail(v.imap)
			}
			s.loggedIn(v)
			return nil
		}), nil
	case "XOAUTH2", "OAUTHBEARER":
		if mech == "OAUTHBEARER" && s.flavour() == Microsoft {
			break
		}
		return &tokenServer{
			bearer: mech == "OAUTHBEARER",
			check: func(username, token string) verdict {
				return s.sb.checkToken(protoIMAP, s.port, username, token)
			},
			final: func(v verdict) error { return s.fail(v.imap) },
			onOK:  s.loggedIn,
		}, nil
	}
	if s.flavour() == Microsoft {
		return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Command Argument Error. 12"}
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unsupported AUTHENTICATE mechanism."}
}

// Commands after login: Exchange with IMAP disabled refuses them all.

func (s *imapSession) Select(mailbox string, options *imap.SelectOptions) (*imap.SelectData, error) {
	if s.notConnected {
		return nil, msNotConnected
	}
	return s.UserSession.Select(mailbox, options)
}

func (s *imapSession) Create(mailbox string, options *imap.CreateOptions) error {
	if s.notConnected {
		return msNotConnected
	}
	return s.UserSession.Create(mailbox, options)
}

func (s *imapSession) Delete(mailbox string) error {
	if s.notConnected {
		return msNotConnected
	}
	return s.UserSession.Delete(mailbox)
}

func (s *imapSession) Rename(mailbox, newName string, options *imap.RenameOptions) error {
	if s.notConnected {
		return msNotConnected
	}
	return s.UserSession.Rename(mailbox, newName, options)
}

func (s *imapSession) Subscribe(mailbox string) error {
	if s.notConnected {
		return msNotConnected
	}
	return s.UserSession.Subscribe(mailbox)
}

func (s *imapSession) Unsubscribe(mailbox string) error {
	if s.notConnected {
		return msNotConnected
	}
	return s.UserSession.Unsubscribe(mailbox)
}

func (s *imapSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if s.notConnected {
		return msNotConnected
	}
	return s.UserSession.List(w, ref, patterns, options)
}

func (s *imapSession) Status(mailbox string, options *imap.StatusOptions) (*imap.StatusData, error) {
	if s.notConnected {
		return nil, msNotConnected
	}
	return s.UserSession.Status(mailbox, options)
}

func (s *imapSession) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	if s.notConnected {
		return nil, msNotConnected
	}
	return s.UserSession.Append(mailbox, r, options)
}

// seedMailbox creates INBOX with n sample messages (default 3).
func seedMailbox(u *imapmemserver.User, email string, n int) error {
	if err := u.Create("INBOX", nil); err != nil {
		return fmt.Errorf("sandbox: seed mailbox: %w", err)
	}
	if n == 0 {
		n = 3
	}
	subjects := []string{"Welcome to the sandbox", "Your weekly summary", "Meeting notes", "Invoice", "Photos from the trip"}
	for i := 0; i < n; i++ {
		date := time.Date(2025, 1, 10+i, 9, 30, 0, 0, time.UTC)
		msg := strings.Join([]string{
			"From: Sandbox <noreply@sandbox.mailmend.test>",
			"To: <" + email + ">",
			"Subject: " + subjects[i%len(subjects)],
			"Date: " + date.Format(time.RFC1123Z),
			fmt.Sprintf("Message-ID: <%d.%s@sandbox.mailmend.test>", i, randToken(8)),
			"Content-Type: text/plain; charset=utf-8",
			"",
			"This message lives in the mailmend sandbox.",
			"",
		}, "\r\n")
		lit := &literal{Reader: bytes.NewReader([]byte(msg)), size: int64(len(msg))}
		if _, err := u.Append("INBOX", lit, &imap.AppendOptions{Time: date}); err != nil {
			return fmt.Errorf("sandbox: seed mailbox: %w", err)
		}
	}
	return nil
}

type literal struct {
	*bytes.Reader
	size int64
}

func (l *literal) Size() int64 { return l.size }
