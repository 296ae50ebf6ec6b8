// SPDX-License-Identifier: Apache-2.0

package guard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bulwarkai/bulwark/internal/demo"
)

// guardService is a remote guard: a moderation endpoint or a judge. It
// flags texts containing "attack", fails on "fail", and on "hang" waits
// until the gateway gives up (its deadline cancels the call).
func guardService(t testing.TB, calls *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		body := string(b)
		switch {
		case strings.Contains(body, "hang"):
			<-r.Context().Done()
			return
		case strings.Contains(body, "fail"):
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		flagged := strings.Contains(body, "attack")
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/chat/completions") {
			ans := "safe"
			if flagged {
				ans = "unsafe\nS14"
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": ans}}}})
			return
		}
		score := 0.01
		if flagged {
			score = 0.93
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"results": []any{map[string]any{"flagged": flagged, "category_scores": map[string]float64{"violence": score}}}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRemoteGuard(t *testing.T) {
	var calls atomic.Int64
	svc := guardService(t, &calls)
	remote := func(kind, mode string) string {
		return "input:\n  - detector: pii\n    action: redact\n  - detector: remote\n    action: block\n    remote:\n      kind: " + kind +
			"\n      url: " + svc.URL + "/v1/" + map[string]string{"moderation": "moderations", "judge": "chat/completions"}[kind] +
			"\n      model: guard\n      timeout: 100ms\n      failureMode: " + mode
	}
	tests := []struct {
		name     string
		guards   string
		prompt   string
		want     int
		auditHas string
	}{
		{name: "moderation flags", guards: remote("moderation", "closed"), prompt: "an attack", want: http.StatusForbidden, auditHas: `"outcome":"block","score":0.93`},
		{name: "moderation passes", guards: remote("moderation", "closed"), prompt: "hello", want: http.StatusOK, auditHas: `"outcome":"pass","score":0.01`},
		{name: "judge flags", guards: remote("judge", "closed"), prompt: "an attack", want: http.StatusForbidden},
		{name: "judge passes", guards: remote("judge", "closed"), prompt: "hello", want: http.StatusOK},
		{name: "deadline fails closed", guards: remote("moderation", "closed"), prompt: "hang", want: http.StatusServiceUnavailable, auditHas: `"outcome":"error","error":"remote guard: no answer within 100ms"`},
		{name: "deadline fails open", guards: remote("moderation", "open"), prompt: "hang", want: http.StatusOK, auditHas: `"outcome":"error"`},
		{name: "error status fails closed", guards: remote("judge", "closed"), prompt: "fail", want: http.StatusServiceUnavailable},
		{name: "error status fails open", guards: remote("judge", "open"), prompt: "fail", want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := &demo.Upstream{}
			gw := startGateway(t, parseGuards(t, tt.guards), up.Handler(), false)
			before := calls.Load()
			status, body := gw.post(t, "/v1/chat/completions", chatBody(false, "user", tt.prompt+" from "+email))
			o := gw.rec.next(t)
			if status != tt.want {
				t.Fatalf("POST = %d %s, want %d", status, body, tt.want)
			}
			if calls.Load() != before+1 {
				t.Errorf("guard service called %d times, want 1", calls.Load()-before)
			}
			if tt.auditHas != "" && !strings.Contains(o.audit, tt.auditHas) {
				t.Errorf("audit = %s, want it to contain %s", o.audit, tt.auditHas)
			}
			if (status == http.StatusOK) != (up.Requests.Load() == 1) {
				t.Errorf("upstream requests = %d with status %d", up.Requests.Load(), status)
			}
			if status == http.StatusServiceUnavailable && !strings.Contains(body, codeGuardDown) {
				t.Errorf("body = %s, want code %s", body, codeGuardDown)
			}
		})
	}
}
