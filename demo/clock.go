package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// MaxOffset bounds how far ahead of its base the demo's clock may run.
const MaxOffset = 100 * 365 * 24 * time.Hour

// Clock is the demo's time: a base clock (the real time) plus an offset
// the page moves forward, never back. The shop, the AuthForge, Telegram
// and Discord fakes and the page all read it, so sessions, license expiry
// and message dates agree. Safe for concurrent use.
type Clock struct {
	base   func() time.Time
	offset atomic.Int64 // nanoseconds ahead of base
}

// NewClock returns a clock at base's time (time.Now when nil).
func NewClock(base func() time.Time) *Clock {
	if base == nil {
		base = time.Now
	}
	return &Clock{base: base}
}

// Now is the base time plus the offset.
func (c *Clock) Now() time.Time { return c.base().Add(c.Offset()) }

// Offset is how far ahead of the base the clock runs.
func (c *Clock) Offset() time.Duration { return time.Duration(c.offset.Load()) }

// Advance moves the clock forward by d and returns the new time. It
// refuses d <= 0 (the clock never goes back) and a total offset beyond
// MaxOffset.
func (c *Clock) Advance(d time.Duration) (time.Time, error) {
	if d <= 0 {
		return time.Time{}, fmt.Errorf("demo: the clock only moves forward, not by %s", d)
	}
	for {
		old := c.offset.Load()
		if d > MaxOffset-time.Duration(old) {
			return time.Time{}, errors.New("demo: the clock is already as far ahead as it may go")
		}
		if c.offset.CompareAndSwap(old, old+int64(d)) {
			return c.Now(), nil
		}
	}
}

// ClockState is the demo's clock as the API shows it.
type ClockState struct {
	Now time.Time `json:"now"`
	// OffsetSeconds is how far ahead of the real time the demo runs.
	OffsetSeconds int64 `json:"offset_seconds"`
	// DaysAhead is the offset in whole days.
	DaysAhead int `json:"days_ahead"`
}

func (c *Clock) state() ClockState {
	off := c.Offset()
	return ClockState{Now: c.base().Add(off), OffsetSeconds: int64(off / time.Second), DaysAhead: int(off / (24 * time.Hour))}
}

// Bounds of one POST /api/clock/advance.
const (
	minAdvanceDays = 1
	maxAdvanceDays = 400
)

// AdvanceResult is the answer of POST /api/clock/advance.
type AdvanceResult struct {
	Clock ClockState `json:"clock"`
	// Removed is how many activations the sweep removed.
	Removed int `json:"removed"`
	// SweepError is set when the sweep failed; the clock moved anyway.
	SweepError string `json:"sweep_error,omitempty"`
}

// handleClockAdvance is POST /api/clock/advance {"days": N}: the demo's
// clock jumps N days (1 to 400) ahead, then the licensing sweeper runs once
// so expired licenses lose their access and their buyers are told now.
func (s *Server) handleClockAdvance(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Days int `json:"days"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.Days < minAdvanceDays || in.Days > maxAdvanceDays {
		apiError(w, http.StatusBadRequest, fmt.Sprintf(`"days" must be a whole number from %d to %d`, minAdvanceDays, maxAdvanceDays))
		return
	}
	// One advance and its sweep at a time, so each sweep sees its jump.
	s.advanceMu.Lock()
	defer s.advanceMu.Unlock()
	now, err := s.clock.Advance(time.Duration(in.Days) * 24 * time.Hour)
	if err != nil {
		apiError(w, http.StatusConflict, err.Error())
		return
	}
	s.log.Info("demo clock advanced", "days", in.Days, "now", now.Format(time.RFC3339))
	out := AdvanceResult{}
	if s.opts.Sweep != nil {
		// The sweep finishes even if the visitor leaves: it tells buyers.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), time.Minute)
		defer cancel()
		n, err := s.opts.Sweep(ctx)
		out.Removed = n
		if err != nil {
			s.log.Error("demo: sweep after advancing the clock", "err", err)
			out.SweepError = err.Error()
		}
	}
	out.Clock = s.clock.state()
	writeJSON(w, http.StatusOK, out)
}
