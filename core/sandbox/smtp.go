package sandbox

import (
	"io"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func (sb *Sandbox) newSMTPServer() *smtp.Server {
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{sb: sb, port: portUser(c.Conn())}, nil
	}))
	s.Domain = "smtp.sandbox.mailmend.test"
	s.TLSConfig = sb.goodTLS
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	s.MaxMessageBytes = 10 << 20
	s.MaxRecipients = 50
	s.ErrorLog = logWriter{sb.opts.Logf}
	return s
}

// smtpSession is one SMTP connection. Mail submitted after a login is
// accepted and dropped.
type smtpSession struct {
	sb     *Sandbox
	port   *user
	authed bool
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (s *smtpSession) flavour() Flavour {
	if s.port != nil {
		return s.port.spec.Flavour
	}
	return Google
}

func (s *smtpSession) AuthMechanisms() []string {
	if s.flavour() == Microsoft {
		return []string{"LOGIN", "XOAUTH2"}
	}
	return []string{"LOGIN", "PLAIN", "XOAUTH2", "OAUTHBEARER"}
}

func (s *smtpSession) password(username, password string) error {
	v := s.sb.checkPassword(protoSMTP, s.port, "AUTH", username, password)
	if !v.ok {
		return v.smtp
	}
	s.authed = true
	return nil
}

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(identity, username, password string) error {
			return s.password(username, password)
		}), nil
	case "LOGIN":
		return &loginServer{check: s.password}, nil
	case "XOAUTH2", "OAUTHBEARER":
		if mech == "OAUTHBEARER" && s.flavour() == Microsoft {
			break
		}
		return &tokenServer{
			bearer: mech == "OAUTHBEARER",
			check: func(username, token string) verdict {
				return s.sb.checkToken(protoSMTP, s.port, username, token)
			},
			final: func(v verdict) error { return v.smtp },
			onOK:  func(verdict) { s.authed = true },
		}, nil
	}
	if s.flavour() == Microsoft {
		return nil, smtpErr(504, "5.7.4 Unrecognized authentication type "+msSMTPHost)
	}
	return nil, smtpErr(504, "5.7.4 Unrecognized authentication type. "+gsmtpID())
}

func (s *smtpSession) Mail(from string, opts *smtp.MailOptions) error {
	if !s.authed {
		if s.flavour() == Microsoft {
			return smtpErr(530, "5.7.57 Client not authenticated to send mail. "+msSMTPHost)
		}
		return smtpErr(530, "5.7.0 Authentication Required. Learn more at", "5.7.0  https://support.google.com/mail/?p=WantAuthError "+gsmtpID())
	}
	return nil
}

func (s *smtpSession) Rcpt(to string, opts *smtp.RcptOptions) error { return nil }

func (s *smtpSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (s *smtpSession) Reset() {}

func (s *smtpSession) Logout() error { return nil }
