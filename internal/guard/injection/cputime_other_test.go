// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package injection

import "time"

var benchStart = time.Now()

// threadCPU falls back to wall-clock time where per-thread CPU time is not
// available.
func threadCPU() time.Duration { return time.Since(benchStart) }
