// SPDX-License-Identifier: Apache-2.0

package llm

import (
	"os"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	body, err := os.ReadFile("../../bench/chat-1500.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Parse(APIChat, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUsageFromJSON(b *testing.B) {
	body := []byte(`{"id":"x","object":"chat.completion","model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"This is a fixed reply from the benchmark upstream. It is about as long as a short answer."},"finish_reason":"stop"}],"usage":{"prompt_tokens":350,"completion_tokens":20,"total_tokens":370}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := UsageFromJSON(body); !ok {
			b.Fatal("no usage")
		}
	}
}
