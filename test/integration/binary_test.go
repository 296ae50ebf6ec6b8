// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary compiles the real bulwark command once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "bulwark-bin")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "bulwark")
		cmd := exec.Command("go", "build", "-o", binPath, "../../cmd/bulwark")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// TestDemoBinary runs `bulwark serve --demo` as a user would, pastes the
// curl it prints, and stops it with SIGTERM.
func TestDemoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	cmd := exec.Command(bin, "serve", "--demo", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck

	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	curlRE := regexp.MustCompile(`curl -s (http://\S+) -H 'Authorization: Bearer (\S+)' -H 'Content-Type: application/json' -d '(.*)'`)
	var url, key, body string
	deadline := time.After(20 * time.Second)
	for url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("demo exited before printing a curl command")
			}
			if m := curlRE.FindStringSubmatch(l); m != nil {
				url, key, body = m[1], m[2], m[3]
			}
		case <-deadline:
			t.Fatal("demo did not print a curl command")
		}
	}
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(reply), "You said: Hello, Bulwark!") {
		t.Fatalf("demo answered %d: %s", res.StatusCode, reply)
	}
	// The audit line for that request reaches stdout.
	var sawAudit bool
	for !sawAudit {
		select {
		case l := <-lines:
			sawAudit = strings.Contains(l, `"request_id":"`+res.Header.Get("X-Request-Id")+`"`)
		case <-time.After(5 * time.Second):
			t.Fatal("no audit line on stdout")
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not exit after SIGTERM")
	}
}

// TestCheckBinary: `bulwark check` exits 1 and names every bad field.
func TestCheckBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	p := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(p, []byte("upstreams: [{name: u, endpoints: []}]\nroutes: [{name: r, pathPrefix: /v1/, upstream: x}]\n"), 0o600) //nolint:errcheck
	out, err := exec.Command(bin, "check", "-c", p).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want 1; output:\n%s", err, out)
	}
	for _, want := range []string{"upstreams[0].endpoints", "routes[0].upstream"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
