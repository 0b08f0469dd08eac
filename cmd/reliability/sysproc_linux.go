package main

import "syscall"

// sysProcAttr makes the kernel kill a bot if the harness dies, so that no
// bot outlives its run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
