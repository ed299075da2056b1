package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/shopbot/shopbot/internal/testlog"
)

// demoRun is `shopbot demo` started through runWith, as main starts it.
type demoRun struct {
	t    *testing.T
	url  string // the page, http://127.0.0.1:port
	logs *testlog.Buffer
}

// startDemo runs `shopbot demo --listen 127.0.0.1:0` until the test ends
// and checks that it then stops cleanly.
func startDemo(t *testing.T) *demoRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan int, 1)
	d := &demoRun{t: t, logs: &testlog.Buffer{}}
	env := func(string) (string, bool) { return "", false }
	h := hooks{
		listening: func(a string) { addr <- a },
		unpaced:   true,
		retryBase: 50 * time.Millisecond,
	}
	var stdout testlog.Buffer
	go func() {
		done <- runWith(ctx, []string{"demo", "--listen", "127.0.0.1:0"}, env, &stdout, d.logs, h)
	}()
	select {
	case a := <-addr:
		d.url = "http://" + a
	case code := <-done:
		cancel()
		t.Fatalf("shopbot demo exited with %d before listening:\n%s", code, d.logs)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("shopbot demo did not start:\n%s", d.logs)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("shopbot demo exited with %d:\n%s", code, d.logs)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("shopbot demo did not stop:\n%s", d.logs)
		}
		if testing.Verbose() || t.Failed() {
			t.Logf("demo logs:\n%s", d.logs)
		}
	})
	return d
}

// post calls the demo's JSON API and decodes the answer into out (nil:
// discard); it returns the HTTP status.
func (d *demoRun) post(path string, body, out any) int {
	d.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		d.t.Fatal(err)
	}
	resp, err := http.Post(d.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		d.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			d.t.Fatalf("POST %s: decode: %v", path, err)
		}
	}
	return resp.StatusCode
}
