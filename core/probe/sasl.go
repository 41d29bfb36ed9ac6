package probe

import (
	"encoding/base64"
	"net"
	"strconv"
	"strings"

	"github.com/mailmend/mailmend/core/account"
)

// The SASL mechanisms the probes speak.
const (
	MechLogin       = "LOGIN"
	MechPlain       = "PLAIN"
	MechXOAuth2     = "XOAUTH2"
	MechOAuthBearer = "OAUTHBEARER"
)

// saslInitial is the initial client response of mech for the credential.
func saslInitial(mech, user string, cred Credential, ep account.Endpoint) []byte {
	switch mech {
	case MechPlain:
		return []byte("\x00" + user + "\x00" + cred.Password)
	case MechXOAuth2:
		return []byte("user=" + user + "\x01auth=Bearer " + cred.AccessToken + "\x01\x01")
	case MechOAuthBearer:
		// RFC 7628: GS2 header with the escaped authorization identity.
		name := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(user)
		return []byte("n,a=" + name + ",\x01host=" + ep.Host + "\x01port=" + strconv.Itoa(ep.Port) +
			"\x01auth=Bearer " + cred.AccessToken + "\x01\x01")
	}
	return nil
}

// saslFailureReply is what a client answers to a server challenge that
// follows its initial response, which for the OAuth mechanisms carries the
// error JSON: XOAUTH2 wants an empty line, OAUTHBEARER a single %x01
// (RFC 7628 3.2.3); any other mechanism is cancelled with "*".
func saslFailureReply(mech string) string {
	switch mech {
	case MechXOAuth2:
		return ""
	case MechOAuthBearer:
		return base64.StdEncoding.EncodeToString([]byte{0x01})
	}
	return "*"
}

// decodeChallenge decodes a base64 SASL challenge. It returns "" for an
// empty or undecodable challenge.
func decodeChallenge(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s == "=" {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			return ""
		}
	}
	return string(b)
}

// chooseMech picks the mechanism for cred among the offered ones (upper
// case, without "AUTH="); forced, when not empty, is used if offered.
// login says whether a non-SASL LOGIN path exists (IMAP LOGIN without
// LOGINDISABLED). It returns "" when nothing fits.
func chooseMech(offered map[string]bool, cred Credential, forced string, login bool) string {
	if forced != "" {
		forced = strings.ToUpper(forced)
		if forced == MechLogin && login || offered[forced] {
			return forced
		}
		return ""
	}
	if cred.IsToken() {
		for _, m := range []string{MechXOAuth2, MechOAuthBearer} {
			if offered[m] {
				return m
			}
		}
		return ""
	}
	if offered[MechPlain] {
		return MechPlain
	}
	if login || offered[MechLogin] {
		return MechLogin
	}
	return ""
}

// ehloName is the EHLO argument: an address literal of the local end, as
// RFC 5321 4.1.4 asks of a client without a meaningful host name.
func ehloName(local net.Addr) string {
	if ta, ok := local.(*net.TCPAddr); ok && ta.IP != nil {
		if ip4 := ta.IP.To4(); ip4 != nil {
			return "[" + ip4.String() + "]"
		}
		return "[IPv6:" + ta.IP.String() + "]"
	}
	return "[127.0.0.1]"
}
