//go:build unix

package dovecottest

import (
	"os"
	"syscall"
)

// sysProcAttr puts Dovecot in its own process group so a stuck shutdown can
// end the whole group, and (on Linux) asks the kernel to stop it when the
// test binary dies.
func sysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	setPdeathsig(a)
	return a
}

func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// killGroup kills the process group Dovecot leads (its pid), which holds
// only the processes this package started.
func killGroup(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGKILL) }
