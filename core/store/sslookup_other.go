//go:build !linux

package store

import "github.com/zalando/go-keyring"

func (goKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }
