// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/bulwarkai/bulwark/internal/config"
	"github.com/bulwarkai/bulwark/internal/testutil"
)

// TestShippedConfigsAreValid keeps the policies we ship (Kubernetes
// example, benchmark) valid as the schema evolves.
func TestShippedConfigsAreValid(t *testing.T) {
	t.Run("deploy/kubernetes configmap", func(t *testing.T) {
		b, err := os.ReadFile("../../deploy/kubernetes/configmap.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var cm struct {
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal(b, &cm); err != nil {
			t.Fatal(err)
		}
		if _, err := config.Parse([]byte(cm.Data["bulwark.yaml"])); err != nil {
			t.Errorf("configmap policy: %v", err)
		}
	})
	t.Run("bench/bulwark.yaml", func(t *testing.T) {
		b, err := os.ReadFile("../../bench/bulwark.yaml")
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer("${KEY_SHA256}", testutil.KeySHA256("k"), "${TMP}", t.TempDir()).Replace(string(b))
		if _, err := config.Parse([]byte(s)); err != nil {
			t.Errorf("bench policy: %v", err)
		}
	})
}
