package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxCommitBatch bounds one group commit so a burst cannot make a single
// transaction (and its waiters' latency) arbitrarily large.
const maxCommitBatch = 512

// maxApply bounds the journaled events one commit copies into bbolt, so
// a burst becomes several short commits instead of one that holds a core
// (and the journal's writer waiting for it) for tens of milliseconds.
const maxApply = 256

// lazyDelay is how long a lazy write waits for another write's commit to
// join before it is committed alone.
const lazyDelay = 20 * time.Millisecond

// errClosed is returned by writes after Close.
var errClosed = errors.New("store: closed")

// writeReq is one caller's part of a group commit.
type writeReq struct {
	fn   func(*bolt.Tx) error
	err  error
	done chan struct{}
	// lazy writes ride along with the next other commit (see committer).
	lazy bool
}

// committer is the store's only writer. Every write (a webhook's event, a
// worker outcome, an order, a license) is queued to it; it takes
// everything queued while the previous commit was in flight and commits it
// in one fsynced transaction. A lone write therefore pays one fsync and no
// wait, and N writes arriving together share one: a webhook's 200 waits
// for at most the commit in flight plus its own.
//
// A lazy write (the worker's outcomes of events that needed no outside
// call) is not committed on its own at once: it joins the next other
// commit, or is committed after lazyDelay when none comes. So while
// webhooks arrive, recording what the worker did with earlier ones adds
// no fsync of its own and never makes a webhook wait for it.
func (db *DB) committer() {
	defer close(db.stopped)
	var lazy []*writeReq
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// backlog: the last commit left journaled events for the next one,
	// which then follows at once with whatever is queued.
	backlog := false
	flush := func(batch []*writeReq) {
		backlog = db.commitBatch(batch)
		for _, r := range batch {
			close(r.done)
		}
	}
	for {
		var r *writeReq
		ok := true
		switch {
		case backlog:
			select {
			case r, ok = <-db.writes:
			default:
			}
		case len(lazy) == 0:
			r, ok = <-db.writes
		default:
			select {
			case r, ok = <-db.writes:
			case <-timer.C:
			}
		}
		if !ok {
			flush(lazy)
			for backlog {
				flush(nil)
			}
			return
		}
		if r != nil && r.lazy && !backlog && len(lazy) < maxCommitBatch {
			if len(lazy) == 0 {
				timer.Reset(lazyDelay)
			}
			lazy = append(lazy, r)
			continue
		}
		batch := lazy
		lazy = nil
		timer.Stop()
		if r != nil {
			batch = append(batch, r)
		}
		flush(takeReady(db.writes, batch, maxCommitBatch))
	}
}

// takeReady appends to batch what ch holds right now, up to max in all,
// without waiting: what arrived while the last commit was in flight goes
// in the next one together.
func takeReady[T any](ch <-chan T, batch []T, max int) []T {
	for len(batch) < max {
		select {
		case r, ok := <-ch:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commitBatch runs the batch's functions in order in one transaction,
// after copying in every journaled event not yet applied (so any function
// sees the events PutEvent has acknowledged). A function that fails gets
// its error and is dropped; the others run again without it (bbolt has no
// savepoints), as bbolt's own Batch does. So each function sees the
// effects of those queued before it, exactly as if they had been
// committed one by one; that is also why a function may run more than
// once and must keep its side effects inside the transaction or in
// variables it overwrites. Requests without a function (nudges and
// settles, see nudge) only ask for the journaled events to be applied.
// It reports whether journaled events were left for the next commit
// (more than maxApply were waiting).
func (db *DB) commitBatch(batch []*writeReq) (backlog bool) {
	db.nudged.Store(false)
	var pend []*journalReq
	capped := false
	if !db.holdJournal.Load() {
		pend = db.in.pending(maxApply)
		capped = db.in.unappliedBeyond(len(pend))
	}
	fns := batch[:0:0]
	for _, r := range batch {
		if r.fn != nil {
			fns = append(fns, r)
		}
	}
	deferred := db.takeDeferred()
	for len(fns) > 0 || len(pend) > 0 || len(deferred) > 0 {
		failed := -1
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			if err := db.failCommit.Load(); err != nil {
				return *err
			}
			if err := applyJournaledTx(tx, pend, db.now()); err != nil {
				return err
			}
			meta := tx.Bucket([]byte(bucketMeta))
			for k, v := range deferred {
				if err := meta.Put([]byte(k), []byte(v())); err != nil {
					return err
				}
			}
			for i, r := range fns {
				if err := r.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		switch {
		case err == nil:
			for _, r := range fns {
				r.err = nil
			}
			db.in.applied(pend)
			return capped
		case failed < 0:
			// The commit itself failed (disk full, I/O error): nothing
			// of the batch is stored; the journaled events wait for
			// the next commit.
			db.log.Error("store commit failed", "err", err, "journaled_events", len(pend))
			db.restoreDeferred(deferred)
			db.in.applyFailed(err)
			for _, r := range batch {
				r.err = fmt.Errorf("store: commit: %w", err)
			}
			return false
		}
		fns[failed].err = err
		fns = append(fns[:failed:failed], fns[failed+1:]...)
	}
	return false
}

// nudge asks the committer to apply the journaled events: urgent (a
// payment the worker should turn into a license now) at once, otherwise
// lazily, with the next commit or after lazyDelay. One lazy nudge at a
// time is enough: the commit it causes applies everything journaled by
// then. Only the journal's writer calls it, and Close closes db.writes
// only after the writer has stopped.
func (db *DB) nudge(urgent bool) {
	if !urgent && !db.nudged.CompareAndSwap(false, true) {
		return
	}
	db.writes <- &writeReq{done: make(chan struct{}), lazy: !urgent}
}

// settle returns once every event PutEvent acknowledged before the call
// is in bbolt, so reads of events see them (read your writes). With
// nothing journaled it costs a lock. Otherwise it makes sure a commit will
// come (within lazyDelay; a payment's comes at once) and waits for the
// events to be applied, not for a commit of its own: one that is under way
// may apply them already.
func (db *DB) settle(ctx context.Context) error {
	return db.settleFor(ctx, false)
}

// settleFor is settle; urgentOnly waits for the payments only.
func (db *DB) settleFor(ctx context.Context, urgentOnly bool) error {
	target := db.in.journaledCount()
	for {
		done, applied, err := db.in.appliedUpTo(target, urgentOnly)
		if done || err != nil {
			return err
		}
		if db.closing() {
			return errClosed
		}
		db.nudgeSoon()
		select {
		case <-applied:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// nudgeSoon asks for a lazy commit from any goroutine; a full queue brings
// a commit anyway, and after Close nothing is asked.
func (db *DB) nudgeSoon() {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closed || !db.nudged.CompareAndSwap(false, true) {
		return
	}
	select {
	case db.writes <- &writeReq{done: make(chan struct{}), lazy: true}:
	default:
	}
}

func (db *DB) closing() bool {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	return db.closed
}

// viewEvents is view for reads of events: it settles first.
func (db *DB) viewEvents(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := db.settle(ctx); err != nil {
		return err
	}
	return db.view(ctx, fn)
}

// update runs fn in a write transaction shared with every other write
// ready at the moment (see committer) and returns once it is durable. fn
// may run more than once (see commitBatch). ctx is checked before
// queueing; once queued, a write is not abandoned, since the caller must
// learn whether it was stored.
func (db *DB) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	return db.write(ctx, fn, false)
}

// write queues fn to the committer, lazily or not, and waits until it is
// durable.
func (db *DB) write(ctx context.Context, fn func(*bolt.Tx) error, lazy bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &writeReq{fn: fn, done: make(chan struct{}), lazy: lazy}
	db.closeMu.RLock()
	if db.closed {
		db.closeMu.RUnlock()
		return errClosed
	}
	db.writes <- r
	db.closeMu.RUnlock()
	<-r.done
	return r.err
}
