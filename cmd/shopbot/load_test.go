package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/checkout/stripetest"
)

// TestWebhookLoad is a load test, not a unit test: it runs only with
// SHOPBOT_LOAD=<events> and prints figures. Concurrent clients post signed
// paid sessions to the real /webhooks/stripe over loopback HTTP; it reports
// acknowledgement throughput and latency (each 200 follows an fsync), then
// how long the worker takes to turn every one into a delivered license.
//
//	SHOPBOT_LOAD=2000 go test -run TestWebhookLoad -v ./cmd/shopbot/
func TestWebhookLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHOPBOT_LOAD"))
	if n <= 0 {
		t.Skip("load test: set SHOPBOT_LOAD=<number of events> to run it")
	}
	const clients = 16
	w := newWorld(t)
	w.start()
	w.say(w.buyer, "/start")

	payloads := make([][]byte, n)
	for i := range payloads {
		payloads[i] = stripetest.CheckoutCompleted(stripetest.EventParams{
			ID: fmt.Sprintf("evt_load_%d", i), SessionID: fmt.Sprintf("cs_load_%d", i), Product: "pro", Identity: "tg:5001",
		})
	}
	lat := make([]time.Duration, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := range jobs {
				t0 := time.Now()
				code := postWith(client, w.addr, payloads[i])
				lat[i] = time.Since(t0)
				if code != http.StatusOK {
					t.Errorf("event %d: status %d", i, code)
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	acked := time.Since(start)
	w.waitUntil("all fulfilled", func() bool { return len(w.af.Licenses()) >= n })
	fulfilled := time.Since(start)

	slices.Sort(lat)
	t.Logf("webhook ack over HTTP, %d clients: %d events in %v = %.0f events/s; p50 %v, p99 %v, max %v",
		clients, n, acked.Round(time.Millisecond), float64(n)/acked.Seconds(),
		lat[n/2].Round(time.Microsecond), lat[n*99/100].Round(time.Microsecond), lat[n-1].Round(time.Microsecond))
	t.Logf("paid to license delivered: %d orders in %v = %.0f orders/s", n, fulfilled.Round(time.Millisecond), float64(n)/fulfilled.Seconds())
	if got := len(w.af.Licenses()); got != n {
		t.Fatalf("licenses = %d for %d orders", got, n)
	}
}

func postWith(c *http.Client, addr string, payload []byte) int {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/stripe", bytes.NewReader(payload))
	if err != nil {
		return 0
	}
	req.Header.Set("Stripe-Signature", stripetest.SignEvent(testWebhookSecret, payload, time.Now()))
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	// Read to the end, or the client cannot reuse the connection and
	// every request pays (and measures) a new dial.
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
