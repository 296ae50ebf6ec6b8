// SPDX-License-Identifier: Apache-2.0

// Command upstream is the load benchmark's stand-in for an inference
// server: it drains the request and returns a fixed chat completion, so
// the benchmark measures the proxies, not the model.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"
)

const reply = `{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"This is a fixed reply from the benchmark upstream. It is about as long as a short answer."},"finish_reason":"stop"}],"usage":{"prompt_tokens":350,"completion_tokens":20,"total_tokens":370}}`

func main() {
	addr := flag.String("listen", "127.0.0.1:18000", "address")
	flag.Parse()
	body := []byte(reply)
	length := strconv.Itoa(len(body))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", length)
		_, _ = w.Write(body)
	})
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
