//go:build !linux

package keyringtest

import "syscall"

// sysProcAttr puts the session in its own process group so Close can stop
// all of it.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
