// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkai/bulwark/internal/server"
	"github.com/bulwarkai/bulwark/internal/testutil"
)

// gateway is an in-process Bulwark serving a policy file.
type gateway struct {
	*server.Server
	ConfigPath string
	URL        string
	AdminURL   string
	Log        *testutil.SyncBuffer
	cancel     context.CancelFunc
	done       chan struct{}
	runErr     error
}

// startGateway writes yaml to a temp file (with ${TMP} replaced by the
// test's temp dir) and serves it until the test ends.
func startGateway(t testing.TB, yaml string) *gateway {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(yaml, "${TMP}", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return startGatewayFile(t, path)
}

// startGatewayFile serves an existing policy file.
func startGatewayFile(t testing.TB, path string) *gateway {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, server.Options{
		ConfigPath: path, Stdout: logs, Stderr: logs,
		Listen: "127.0.0.1:0", AdminListen: "127.0.0.1:0", ReloadDebounce: 20 * time.Millisecond,
	})
	if err != nil {
		cancel()
		t.Fatalf("starting gateway: %v", err)
	}
	g := &gateway{Server: s, ConfigPath: path, Log: logs, cancel: cancel, done: make(chan struct{})}
	scheme := "http://"
	if strings.Contains(mustRead(t, path), "certFile") && strings.Contains(mustRead(t, path), "\ntls:") {
		scheme = "https://"
	}
	g.URL = scheme + s.Addr()
	g.AdminURL = "http://" + s.AdminAddr()
	go func() {
		g.runErr = s.Run(ctx)
		close(g.done)
	}()
	testutil.WaitFor(t, 5*time.Second, "gateway ready", func() bool {
		res, err := http.Get(g.AdminURL + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	t.Cleanup(func() { g.Stop(t) })
	return g
}

// Stop shuts the gateway down gracefully and waits for it.
func (g *gateway) Stop(t testing.TB) {
	t.Helper()
	g.cancel()
	select {
	case <-g.done:
		if g.runErr != nil {
			t.Errorf("gateway stopped with error: %v", g.runErr)
		}
	case <-time.After(40 * time.Second):
		t.Error("gateway did not stop")
	}
}

// Wait blocks until Run returns and reports its error.
func (g *gateway) Wait() error {
	<-g.done
	return g.runErr
}

// Cancel starts a graceful shutdown without waiting.
func (g *gateway) Cancel() { g.cancel() }

// Metric returns the admin /metrics text.
func (g *gateway) Metric(t testing.TB) string {
	t.Helper()
	res, err := http.Get(g.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// auditLines reads a JSONL audit file.
func auditLines(t testing.TB, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line is not JSON: %v: %s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

func mustRead(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
