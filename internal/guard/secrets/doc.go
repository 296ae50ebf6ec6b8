// SPDX-License-Identifier: Apache-2.0

// Package secrets detects credentials in free text: cloud keys, API
// tokens of well-known services, PEM private keys, JWTs, passwords in URLs
// and high-entropy values assigned to secret-looking names.
//
// Detection is a single pass over the text. Provider tokens are anchored on
// their literal prefixes (ghp_, sk-ant-, AKIA, ...) at word starts and then
// validated by hand-written character-class and length checks, which keeps
// a clean 2 KB prompt at a few microseconds and every check linear-time.
// Several patterns are adapted from gitleaks (MIT); see NOTICE.
package secrets
