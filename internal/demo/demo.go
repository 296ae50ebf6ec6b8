// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"strings"

	"github.com/bulwarkai/bulwark/internal/config"
)

//go:embed demo.yaml
var demoYAML string

// Key is the demo API key. The demo listens on loopback only.
const Key = "bw-demo-key"

// Config returns the embedded demo policy pointing at upstreamURL.
func Config(upstreamURL string) (*config.Config, error) {
	sum := sha256.Sum256([]byte(Key))
	y := strings.NewReplacer("${DEMO_UPSTREAM}", upstreamURL, "${DEMO_KEY_SHA256}", hex.EncodeToString(sum[:])).Replace(demoYAML)
	return config.Parse([]byte(y))
}
