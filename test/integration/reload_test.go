// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bulwarkai/bulwark/internal/testutil"
)

// replaceFile swaps the config the way editors and ConfigMaps do: write a
// new file and rename it over the old one.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

var reloadRE = regexp.MustCompile(`bulwark_config_reloads_total\{result="(success|failure)"\} (\d+)`)

func reloads(t *testing.T, g *gateway) (ok, failed int) {
	for _, m := range reloadRE.FindAllStringSubmatch(g.Metric(t), -1) {
		n, _ := strconv.Atoi(m[2])
		if m[1] == "success" {
			ok = n
		} else {
			failed = n
		}
	}
	return ok, failed
}

func TestReload(t *testing.T) {
	_, up := startDemoUpstream(t)
	cfg := baseConfig(up.URL, "")
	g := startGateway(t, cfg)
	status := func(key string) int {
		res, _ := do(t, "POST", g.URL+"/v1/chat/completions", key, strings.Replace(chatBody, "big-model", "small-1", 1))
		return res.StatusCode
	}
	if status(aliceKey) != 200 {
		t.Fatal("alice should be allowed before reload")
	}
	dir := filepath.Dir(g.ConfigPath)
	withTmp := func(s string) string { return strings.ReplaceAll(s, "${TMP}", dir) }

	t.Run("good config takes effect", func(t *testing.T) {
		// Revoke alice's key.
		revoked := strings.Replace(cfg, "    - id: alice\n      tenant: acme\n      sha256: "+testutil.KeySHA256(aliceKey)+"\n", "", 1)
		if revoked == cfg {
			t.Fatal("test bug: alice not removed")
		}
		replaceFile(t, g.ConfigPath, withTmp(revoked))
		testutil.WaitFor(t, 5*time.Second, "alice revoked", func() bool { return status(aliceKey) == 401 })
		if status(bobKey) != 200 {
			t.Error("bob should still be allowed")
		}
	})
	t.Run("bad config is rejected and the old one keeps serving", func(t *testing.T) {
		_, failedBefore := reloads(t, g)
		replaceFile(t, g.ConfigPath, withTmp(cfg+"\nroutez: []\n"))
		testutil.WaitFor(t, 5*time.Second, "failed reload counted", func() bool {
			_, failed := reloads(t, g)
			return failed > failedBefore
		})
		if status(bobKey) != 200 || status(aliceKey) != 401 {
			t.Error("the previous config must keep serving after a rejected reload")
		}
		if !strings.Contains(g.Log.String(), "config reload rejected") || !strings.Contains(g.Log.String(), "unknown field \\\"routez\\\"") {
			t.Errorf("reload failure not logged with its cause:\n%s", g.Log.String())
		}
	})
	t.Run("SIGHUP reloads", func(t *testing.T) {
		replaceFile(t, g.ConfigPath, withTmp(cfg))
		testutil.WaitFor(t, 5*time.Second, "alice back", func() bool { return status(aliceKey) == 200 })
		okBefore, _ := reloads(t, g)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, 5*time.Second, "reload after SIGHUP", func() bool {
			ok, _ := reloads(t, g)
			return ok > okBefore
		})
	})
}

// TestReloadUnderLoad: requests in flight across a reload all succeed.
func TestReloadUnderLoad(t *testing.T) {
	_, up := startDemoUpstream(t)
	cfg := baseConfig(up.URL, "")
	g := startGateway(t, cfg)
	dir := filepath.Dir(g.ConfigPath)
	stop := make(chan struct{})
	errs := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, body := do(t, "POST", g.URL+"/v1/chat/completions", aliceKey, chatBody)
			if res.StatusCode != 200 {
				errs <- string(body)
			}
		}
	}()
	for i := range 5 {
		okBefore, _ := reloads(t, g)
		replaceFile(t, g.ConfigPath, strings.ReplaceAll(cfg, "${TMP}", dir)+"\n# rev "+strconv.Itoa(i)+"\n")
		testutil.WaitFor(t, 5*time.Second, "reload", func() bool { ok, _ := reloads(t, g); return ok > okBefore })
	}
	close(stop)
	<-done
	close(errs)
	for e := range errs {
		t.Errorf("request failed across reload: %s", e)
	}
}
