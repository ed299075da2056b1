package testlog_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/shopbot/shopbot/internal/testlog"
)

func TestBufferConcurrent(t *testing.T) {
	var b testlog.Buffer
	log := slog.New(slog.NewTextHandler(&b, nil))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				log.Info("line", "g", i, "n", j)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	out := b.String()
	if n := strings.Count(out, "\n"); n != 400 {
		t.Errorf("%d lines, want 400", n)
	}
	if !strings.Contains(out, "g=7 n=49") {
		t.Errorf("missing a line in:\n%s", out)
	}
	if got := fmt.Sprintf("%s", &b); got != out {
		t.Errorf("%%s of a *Buffer does not print its contents")
	}
}
