package demo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/shopbot/shopbot/checkout/stripetest"
)

// testBase is where the tests' clocks start.
func testBase() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }

func TestClockMovesOnlyForward(t *testing.T) {
	clockBase := testBase()
	c := NewClock(func() time.Time { return clockBase })
	if got := c.Now(); !got.Equal(clockBase) {
		t.Fatalf("Now = %s, want the base %s", got, clockBase)
	}
	for _, d := range []time.Duration{0, -time.Hour, MaxOffset + time.Hour} {
		if _, err := c.Advance(d); err == nil {
			t.Errorf("Advance(%s) succeeded", d)
		}
	}
	if c.Offset() != 0 {
		t.Fatalf("refused advances moved the clock by %s", c.Offset())
	}
	now, err := c.Advance(24 * time.Hour)
	if err != nil || !now.Equal(clockBase.Add(24*time.Hour)) || !c.Now().Equal(now) {
		t.Fatalf("Advance(24h) = %s, %v; Now %s", now, err, c.Now())
	}
	if _, err := c.Advance(MaxOffset); err == nil {
		t.Errorf("Advance past MaxOffset succeeded")
	}

	// Concurrent advances all count; readers never see time go back.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := c.Advance(time.Hour); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			last := c.Now()
			for range 50 {
				if n := c.Now(); n.Before(last) {
					t.Errorf("Now went back from %s to %s", last, n)
				} else {
					last = n
				}
			}
		})
	}
	wg.Wait()
	if want := 24*time.Hour + 400*time.Hour; c.Offset() != want {
		t.Fatalf("offset = %s, want %s", c.Offset(), want)
	}
	if real := NewClock(nil); real.Now().Sub(time.Now()).Abs() > time.Minute {
		t.Errorf("NewClock(nil) is not on the real time: %s", real.Now())
	}
}

func TestClockAdvanceEndpoint(t *testing.T) {
	clockBase := testBase()
	// The base ticks on every read, like the real time: the state's
	// version must not change with it.
	var ticks atomic.Int64
	clock := NewClock(func() time.Time { return clockBase.Add(time.Duration(ticks.Add(1)) * time.Millisecond) })
	var sweeps atomic.Int32
	sweepErr := atomic.Value{}
	e := newEnv(t, func(o *Options) {
		o.Clock = clock
		o.Sweep = func(ctx context.Context) (int, error) {
			sweeps.Add(1)
			if err, _ := sweepErr.Load().(error); err != nil {
				return 0, err
			}
			return 2, nil
		}
	})

	st := e.state("")
	if st.Clock.DaysAhead != 0 || st.Clock.OffsetSeconds != 0 || st.Clock.Now.Before(clockBase) {
		t.Fatalf("initial clock %+v", st.Clock)
	}
	if again := e.state(""); again.Version != st.Version {
		t.Errorf("the version changed while only the time ticked: %s then %s", st.Version, again.Version)
	}

	for _, body := range []string{`{"days":0}`, `{"days":-1}`, `{"days":401}`, `{"days":1.5}`, `{"days":"3"}`, `{}`, `days=3`} {
		code, out := e.do("POST", "/api/clock/advance", "application/json", body)
		if code != 400 || !json.Valid([]byte(out)) {
			t.Errorf("advance %s: %d %s, want 400 with a JSON error", body, code, out)
		}
	}
	if sweeps.Load() != 0 || clock.Offset() != 0 {
		t.Fatalf("refused advances: %d sweeps, offset %s", sweeps.Load(), clock.Offset())
	}

	code, out := e.do("POST", "/api/clock/advance", "application/json", `{"days":31}`)
	var res AdvanceResult
	if code != 200 || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("advance 31 days: %d %s", code, out)
	}
	if res.Clock.DaysAhead != 31 || res.Clock.OffsetSeconds != 31*86400 || res.Removed != 2 || res.SweepError != "" ||
		res.Clock.Now.Before(clockBase.Add(31*24*time.Hour)) || sweeps.Load() != 1 {
		t.Fatalf("advance 31 days = %+v after %d sweeps", res, sweeps.Load())
	}
	after := e.state("")
	if after.Clock.DaysAhead != 31 || after.Version == st.Version {
		t.Fatalf("state after advancing: clock %+v, version %s (was %s)", after.Clock, after.Version, st.Version)
	}

	// A failed sweep is reported; the clock has moved all the same.
	sweepErr.Store(errors.New("store unavailable"))
	code, out = e.do("POST", "/api/clock/advance", "application/json", `{"days":400}`)
	res = AdvanceResult{}
	if code != 200 || json.Unmarshal([]byte(out), &res) != nil || res.SweepError != "store unavailable" || res.Clock.DaysAhead != 431 {
		t.Fatalf("advance with a failing sweep: %d %s", code, out)
	}

	// Events are still signed at the real time, so the webhook takes them
	// however far ahead the demo runs.
	sc := stripetest.NewClient(e.front.URL, "sk_test_unit")
	s, err := sc.CheckoutSessions.New(&stripe.CheckoutSessionParams{
		Mode: stripe.String("payment"), ClientReferenceID: stripe.String("tg:5001"),
		LineItems: []*stripe.CheckoutSessionLineItemParams{{Price: stripe.String("price_pro"), Quantity: stripe.Int64(1)}},
		Metadata:  map[string]string{"shopbot_product": "pro", "shopbot_identity": "tg:5001"},
		ExpiresAt: stripe.Int64(clock.Now().Add(30 * time.Minute).Unix()),
	})
	if err != nil {
		t.Fatal(err)
	}
	if code := e.payAction(s.ID, actPay); code != http.StatusSeeOther {
		t.Fatalf("pay after advancing: %d", code)
	}
	if got := e.received(); len(got) != 1 || got[0].Type != "checkout.session.completed" {
		t.Fatalf("events after paying ahead of time: %+v", got)
	}
}
