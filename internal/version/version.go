// SPDX-License-Identifier: Apache-2.0

// Package version holds build information, set with -ldflags -X.
package version

import "runtime/debug"

// Version is the release or commit, set at build time.
var Version = "dev"

// String describes the build.
func String() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		v += " " + bi.GoVersion
	}
	return "bulwark " + v
}
