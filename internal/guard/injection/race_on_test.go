// SPDX-License-Identifier: Apache-2.0

//go:build race

package injection

// raceEnabled is set under -race, where sync.Pool deliberately drops
// entries and allocation counts are meaningless.
const raceEnabled = true
