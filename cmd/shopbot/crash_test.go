package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/internal/testlog"
	"github.com/shopbot/shopbot/store"
)

// TestKillDuringFulfillmentLosesNothing runs the real binary (built as the
// Dockerfile builds it) against the fakes, posts a burst of paid sessions
// and kills the process with SIGKILL twice while the worker is busy: the
// first time right after AuthForge created a license and before shopbot
// heard of it (the gap label reconciliation closes), the second time at
// an arbitrary point among outside calls and batch commits. Stripe then
// redelivers every event. In the end every paid session has exactly one
// license at AuthForge and in the store, and every event is done.
func TestKillDuringFulfillmentLosesNothing(t *testing.T) {
	_, _, bin := dockerBinary(t)

	w := newWorld(t)
	// Each license takes AuthForge a few milliseconds, so the kills land
	// while the worker is between outside calls and batch commits.
	w.af.SetLatency(5 * time.Millisecond)
	cfg := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(w.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	const orders = 90
	events := make([][]byte, orders)
	for i := range events {
		events[i] = stripetest.CheckoutCompleted(stripetest.EventParams{
			ID: fmt.Sprintf("evt_crash_%d", i), SessionID: fmt.Sprintf("cs_test_crash_%d", i),
			Product: "pro", Identity: fmt.Sprintf("tg:%d", 70000+i),
		})
	}

	// Run 1 is killed inside AuthForge's create of the 30th license, run
	// 2 once 60 exist; run 3 finishes.
	for run, killAt := range []int{orders / 3, 2 * orders / 3, -1} {
		p := startBinary(t, bin, cfg, w.env)
		killed := make(chan struct{})
		if run == 0 {
			var once sync.Once
			w.af.OnCreate(func(total int) {
				if total >= killAt {
					once.Do(func() { p.kill(t); close(killed) })
				}
			})
		}
		deliverAll(t, p.addr, events, run == 0)
		switch {
		case killAt < 0:
			waitFor(t, "every event done", func() bool { return pendingEvents(t, p.addr) == 0 })
			p.stop(t)
		case run == 0:
			waitFor(t, "the kill inside a create", func() bool {
				select {
				case <-killed:
					return true
				default:
					return false
				}
			})
			w.af.OnCreate(nil)
		default:
			waitFor(t, fmt.Sprintf("%d licenses before kill %d", killAt, run+1), func() bool { return len(w.af.Licenses()) >= killAt })
			p.kill(t)
		}
		if n := len(w.af.Licenses()); killAt >= 0 && n >= orders {
			t.Fatalf("kill %d came after all %d licenses existed: it interrupted nothing", run+1, n)
		}
	}

	labels := map[string]int{}
	for _, l := range w.af.Licenses() {
		labels[l.Label]++
	}
	for i := range orders {
		if n := labels[fmt.Sprintf("shopbot:cs_test_crash_%d", i)]; n != 1 {
			t.Errorf("order %d has %d licenses at AuthForge, want 1", i, n)
		}
	}
	if len(labels) != orders {
		t.Errorf("%d distinct labels at AuthForge, want %d", len(labels), orders)
	}
	db, err := store.Open(context.Background(), store.Options{Path: filepath.Join(w.dir, "shop.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.OrdersByStatus[store.OrderFulfilled] != orders || st.ActiveLicenses != orders || st.EventsByState[store.EventDone] < orders {
		t.Fatalf("store after the kills: %d fulfilled orders, %d licenses, %d done events; want %d of each",
			st.OrdersByStatus[store.OrderFulfilled], st.ActiveLicenses, st.EventsByState[store.EventDone], orders)
	}
}

// proc is one run of the binary.
type proc struct {
	cmd  *exec.Cmd
	addr string
	logs *testlog.Buffer
	done chan error
}

// startBinary runs `shopbot run` and waits until it listens.
func startBinary(t *testing.T, bin, cfg string, env map[string]string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "run", "-config", cfg)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &testlog.Buffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			if strings.Contains(line, `msg="shopbot running"`) {
				for _, f := range strings.Fields(line) {
					if a, ok := strings.CutPrefix(f, "listen="); ok {
						addr <- a
					}
				}
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case p.addr = <-addr:
	case err := <-p.done:
		t.Fatalf("shopbot exited before listening: %v\n%s", err, p.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("shopbot did not start:\n%s", p.logs)
	}
	return p
}

// kill ends the process with SIGKILL: no shutdown, no last commit. It
// may run on another goroutine than the test's, so it reports, not stops.
func (p *proc) kill(t *testing.T) {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Errorf("kill: %v", err)
	}
	<-p.done
}

// stop ends the process as Ctrl-C would and checks it exits cleanly.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("shopbot exited with %v:\n%s", err, p.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("shopbot did not stop:\n%s", p.logs)
	}
}

// deliverAll posts every event as Stripe would (again after a crash), from
// a few senders at once; a refused or failed delivery fails the test,
// unless the shop may be killed meanwhile (dying).
func deliverAll(t *testing.T, addr string, events [][]byte, dying bool) {
	t.Helper()
	jobs := make(chan []byte)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for range 8 {
		wg.Go(func() {
			for ev := range jobs {
				if code := postWith(client, addr, ev); code != http.StatusOK && !dying {
					t.Errorf("webhook status %d", code)
				}
			}
		})
	}
	for _, ev := range events {
		jobs <- ev
	}
	close(jobs)
	wg.Wait()
}

// pendingEvents reads /healthz.
func pendingEvents(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	defer resp.Body.Close()
	var h healthz
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %d %v", resp.StatusCode, err)
	}
	return h.Pending
}

// waitFor polls cond until it holds, failing the test after 60 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
