//go:build unix && !linux

package dovecottest

import "syscall"

func setPdeathsig(*syscall.SysProcAttr) {}
