package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mailmend/mailmend/core/account"
)

type providersOptions struct {
	app  *app
	JSON bool
}

func newProvidersCmd(a *app) *cobra.Command {
	o := &providersOptions{app: a}
	cmd := &cobra.Command{
		Use:   "providers",
		Short: "List the known mail providers and their settings",
		Long: `List the built-in providers and those from your config file, with the
IMAP and SMTP servers mailmend uses for them and the sign-in methods they take.
Add your own (a self-hosted server, a company identity provider) in the config
file; see the README.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProviders(o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON")
	return cmd
}

func runProviders(o *providersOptions) error {
	all := o.app.catalog.All()
	if o.JSON {
		type oauthJSON struct {
			AuthURL       string   `json:"auth_url"`
			TokenURL      string   `json:"token_url"`
			DeviceAuthURL string   `json:"device_auth_url,omitempty"`
			Scopes        []string `json:"scopes"`
			ClientID      string   `json:"client_id,omitempty"`
		}
		type provJSON struct {
			ID             string     `json:"id"`
			Name           string     `json:"name"`
			Domains        []string   `json:"domains"`
			IMAP           string     `json:"imap"`
			IMAPSecurity   string     `json:"imap_security"`
			SMTP           string     `json:"smtp"`
			SMTPSecurity   string     `json:"smtp_security"`
			Auth           []string   `json:"auth"`
			AppPasswordURL string     `json:"app_password_url,omitempty"`
			OAuth2         *oauthJSON `json:"oauth2,omitempty"`
		}
		out := struct {
			Providers []provJSON `json:"providers"`
		}{Providers: []provJSON{}}
		for _, p := range all {
			j := provJSON{ID: p.ID, Name: p.Name, Domains: nonNil(p.Domains), IMAP: p.IMAP, IMAPSecurity: string(p.IMAPSecurity),
				SMTP: p.SMTP, SMTPSecurity: string(p.SMTPSecurity), Auth: authStrings(p.Auth), AppPasswordURL: p.AppPasswordURL}
			if p.OAuth2 != nil && p.OAuth2.TokenURL != "" {
				j.OAuth2 = &oauthJSON{AuthURL: p.OAuth2.AuthURL, TokenURL: p.OAuth2.TokenURL, DeviceAuthURL: p.OAuth2.DeviceAuthURL,
					Scopes: nonNil(p.OAuth2.Scopes), ClientID: p.OAuth2.ClientID}
			}
			out.Providers = append(out.Providers, j)
		}
		return writeJSON(o.app.env.Out, out)
	}
	tw := tabwriter.NewWriter(o.app.env.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tIMAP\tSMTP\tSIGN-IN")
	for _, p := range all {
		imap, smtp := "-", "-"
		if p.IMAP != "" {
			imap = p.IMAP + " " + string(p.IMAPSecurity)
		}
		if p.SMTP != "" {
			smtp = p.SMTP + " " + string(p.SMTPSecurity)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, imap, smtp, joinAuth(p.Auth))
	}
	return tw.Flush()
}

func authStrings(ms []account.AuthMethod) []string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
