// Package e2e holds end-to-end tests of the mailmend binary against the real
// parts: a private gnome-keyring on its own D-Bus session, Dovecot on
// loopback, and a real terminal. It has no code of its own.
package e2e
