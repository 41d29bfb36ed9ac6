package keyringtest

import "syscall"

// sysProcAttr puts the session in its own process group (so Close can stop
// all of it) and kills it if the test process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
