// SPDX-License-Identifier: Apache-2.0

//go:build race

package waf

// raceEnabled is true under the race detector, which slows CRS about
// tenfold: the regression suite then runs a sample.
const raceEnabled = true
