// SPDX-License-Identifier: Apache-2.0

//go:build linux

package injection

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPU returns the CPU time consumed by the calling OS thread. The
// latency budget is CPU time on one core; wall-clock time on a shared
// machine also counts time spent waiting for the scheduler. Callers must
// hold runtime.LockOSThread.
func threadCPU() time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}
