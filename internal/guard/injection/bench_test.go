// SPDX-License-Identifier: Apache-2.0

package injection

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// benchPrompt builds a realistic prompt of about n bytes: ordinary request
// prose with code, numbers and punctuation, so that every normalisation and
// feature path runs.
func benchPrompt(n int) string {
	const para = "Please summarise the following support ticket for the on-call engineer. " +
		"The customer reports that since version 4.2.1 the export job fails at 03:00 UTC with " +
		"\"permission denied\" when writing to /var/lib/export; they tried `chmod 755` and " +
		"restarting the service, and would like to know whether the system prompt for the " +
		"assistant can be updated to explain the new retention policy. Include next steps.\n"
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(para)
	}
	return b.String()[:n]
}

func BenchmarkScore(b *testing.B) {
	m := Default()
	for _, size := range []int{256, 2048, 16384} {
		text := benchPrompt(size)
		b.Run(fmt.Sprintf("bytes=%d", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			// Per-call CPU times give the tail latency the issue sets a
			// budget for: p99 <= 0.2 ms of CPU for 2 KB on one core.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			lat := make([]time.Duration, 0, 1<<16)
			for b.Loop() {
				start := threadCPU()
				m.Score(text)
				if len(lat) < cap(lat) {
					lat = append(lat, threadCPU()-start)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(percentile(lat, 0.50).Nanoseconds()), "p50-cpu-ns")
			b.ReportMetric(float64(percentile(lat, 0.99).Nanoseconds()), "p99-cpu-ns")
		})
	}
}
