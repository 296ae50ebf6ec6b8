// SPDX-License-Identifier: Apache-2.0

// Command loadgen offers a fixed request rate over a fixed number of
// keep-alive connections and reports latency percentiles. Unlike wrk's
// closed loop, an open loop below saturation measures what a proxy adds to
// each request rather than how long requests queue.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "", "target URL")
	bodyFile := flag.String("body", "bench/chat-1500.json", "request body file")
	key := flag.String("key", os.Getenv("BENCH_KEY"), "bearer key")
	rate := flag.Int("rate", 1000, "requests per second offered")
	conns := flag.Int("c", 32, "connections")
	dur := flag.Duration("d", 10*time.Second, "duration")
	flag.Parse()
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns}}
	send := func() (time.Duration, bool) {
		req, _ := http.NewRequest("POST", *url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+*key)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return 0, false
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return time.Since(start), res.StatusCode == 200
	}
	for range *conns { // warm the pool
		send()
	}
	ticks := make(chan struct{}, *rate)
	var mu sync.Mutex
	var lat []time.Duration
	failed := 0
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range ticks {
				d, ok := send()
				mu.Lock()
				if ok {
					lat = append(lat, d)
				} else {
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	interval := time.Second / time.Duration(*rate)
	end := time.Now().Add(*dur)
	dropped := 0
	for next := time.Now(); next.Before(end); next = next.Add(interval) {
		time.Sleep(time.Until(next))
		select {
		case ticks <- struct{}{}:
		default:
			dropped++ // all connections busy: the target is saturated
		}
	}
	close(ticks)
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	fmt.Printf("%d ok, %d failed, %d not sent (saturated), p50 %s p90 %s p99 %s max %s\n",
		len(lat), failed, dropped, pct(.50).Round(time.Microsecond), pct(.90).Round(time.Microsecond),
		pct(.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
}
