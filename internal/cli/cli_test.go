// SPDX-License-Identifier: Apache-2.0

package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkai/bulwark/internal/config"
)

func run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Main(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bulwark.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// issueExample is the policy from the gateway issue, which must work
// exactly as written (with a real hash in place of the placeholder).
const issueExample = `listen: 127.0.0.1:8080
adminListen: 127.0.0.1:9090        # /metrics, /healthz, /readyz
upstreams:
  - name: llm
    endpoints: ["http://127.0.0.1:8000"]
identity:
  apiKeys:
    - id: alice
      tenant: acme
      sha256: 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b  # keys are never stored in plain text
routes:
  - name: openai
    pathPrefix: /v1/
    upstream: llm
    maxRequestBytes: 1048576
audit:
  path: /var/log/bulwark/audit.jsonl   # or "-" for stdout
`

func TestCheck(t *testing.T) {
	t.Run("issue example is valid", func(t *testing.T) {
		p := writeFile(t, issueExample)
		out, _, err := run(t, "", "check", "-c", p)
		if err != nil {
			t.Fatalf("check: %v", err)
		}
		if !strings.Contains(out, ": ok") {
			t.Errorf("stdout = %q", out)
		}
	})
	t.Run("every problem is listed with its field path", func(t *testing.T) {
		bad := `listen: 127.0.0.1:8080
adminListen: 127.0.0.1:8080
upstreams:
  - name: llm
    endpoints: ["ftp://x", "http://"]
identity:
  apiKeys:
    - id: alice
      sha256: plaintext-key
  jwt:
    - name: corp
      issuer: ""
      algorithms: [HS256]
routes:
  - name: openai
    pathPrefix: v1
    upstream: nope
    access:
      - {}
audit:
  prompts: everything
`
		_, _, err := run(t, "", "check", "-c", writeFile(t, bad))
		var ve *config.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("err = %v, want a ValidationError", err)
		}
		var got []string
		for _, p := range ve.Problems {
			got = append(got, strings.SplitN(p.Error(), ":", 2)[0])
		}
		want := []string{
			"adminListen",
			"upstreams[0].endpoints[0]",
			"upstreams[0].endpoints[1]",
			"identity.apiKeys[0].sha256",
			"identity.jwt[0].issuer",
			"identity.jwt[0].audiences",
			"identity.jwt[0]",
			"identity.jwt[0].algorithms[0]",
			"routes[0].pathPrefix",
			"routes[0].upstream",
			"routes[0].access[0]",
			"audit.prompts",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("problem paths (-want +got):\n%s\nfull error:\n%v", diff, err)
		}
	})
	t.Run("unknown keys are errors", func(t *testing.T) {
		_, _, err := run(t, "", "check", "-c", writeFile(t, issueExample+"rutes: []\n"))
		if err == nil || !strings.Contains(err.Error(), `unknown field "rutes"`) {
			t.Errorf("err = %v, want unknown field \"rutes\"", err)
		}
	})
	t.Run("duplicate keys are errors", func(t *testing.T) {
		_, _, err := run(t, "", "check", "-c", writeFile(t, issueExample+"listen: 0.0.0.0:80\n"))
		if err == nil || !strings.Contains(err.Error(), "listen") {
			t.Errorf("err = %v, want a duplicate key error", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, _, err := run(t, "", "check", "-c", "/nonexistent/bulwark.yaml")
		if err == nil || !strings.Contains(err.Error(), "reading config") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestHelpAndVersion(t *testing.T) {
	for _, cmd := range [][]string{{"serve", "--help"}, {"check", "--help"}, {"hash-key", "--help"}, {"help"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			out, errOut, err := run(t, "", cmd...)
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !strings.Contains(out+errOut, "Usage") {
				t.Errorf("no usage text: %q %q", out, errOut)
			}
		})
	}
	out, _, err := run(t, "", "version")
	if err != nil || !strings.HasPrefix(out, "bulwark ") {
		t.Errorf("version = %q, %v", out, err)
	}
	if _, _, err := run(t, "", "frobnicate"); !errors.Is(err, ErrUsage) {
		t.Errorf("unknown command err = %v, want ErrUsage", err)
	}
	if _, _, err := run(t, "", "serve"); !errors.Is(err, ErrUsage) {
		t.Errorf("serve without -c or --demo: err = %v, want ErrUsage", err)
	}
}

func TestHashKey(t *testing.T) {
	out, _, err := run(t, "sk-alice\n", "hash-key")
	if err != nil {
		t.Fatal(err)
	}
	// printf %s sk-alice | sha256sum
	if got, want := strings.TrimSpace(out), "099295a3784e1bd368dc348843a7398c1931b6b8ec2504c73e91ed2040bdc46c"; got != want {
		t.Errorf("hash-key = %s, want %s", got, want)
	}
}
