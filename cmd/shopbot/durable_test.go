package main

import (
	"encoding/json"
	"net/http"
	"testing"
)

// The production wiring (`shopbot run`) opens the store with fsync on: a
// webhook's 200 must mean the event is on disk. Forcing NoSync in newApp
// makes this fail (the test binary may use NoSync; the store refuses it
// in any other binary).
func TestRunOpensStoreDurable(t *testing.T) {
	w := newWorld(t)
	w.start()
	resp, err := http.Get("http://" + w.addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	defer resp.Body.Close()
	var h struct {
		Status  string `json:"status"`
		Durable *bool  `json:"durable"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	if resp.StatusCode != http.StatusOK || h.Status != "ok" {
		t.Fatalf("GET /healthz: %d %+v", resp.StatusCode, h)
	}
	if h.Durable == nil {
		t.Fatal("GET /healthz does not say whether the store fsyncs")
	}
	if !*h.Durable {
		t.Fatal("store opened by `shopbot run` does not fsync its commits")
	}
}
