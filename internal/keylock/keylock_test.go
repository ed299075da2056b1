package keylock

import (
	"sync"
	"testing"
	"time"
)

func TestLockReleasesEntries(t *testing.T) {
	var m Map
	done := make(chan struct{})
	unlock := m.Lock("A")
	go func() {
		defer close(done)
		u := m.Lock("A")
		u()
	}()
	u2 := m.Lock("B") // a different key is not blocked
	u2()
	unlock()
	<-done
	if n := m.size(); n != 0 {
		t.Errorf("%d lock entries left, want 0", n)
	}
}

func TestLockSerialisesOneKey(t *testing.T) {
	var m Map
	var wg sync.WaitGroup
	inside := 0
	for range 20 {
		wg.Go(func() {
			unlock := m.Lock("k")
			defer unlock()
			inside++
			if inside != 1 {
				t.Errorf("%d holders of one key at once", inside)
			}
			time.Sleep(time.Millisecond)
			inside--
		})
	}
	wg.Wait()
	if n := m.size(); n != 0 {
		t.Errorf("%d lock entries left, want 0", n)
	}
}
