package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
)

// The event journal makes a webhook durable with one sequential write and
// one fdatasync, where a bbolt commit costs two fsyncs and a dozen pages
// scattered over the file. It is the ingest half of etcd's design (a
// write-ahead log in front of bbolt, applied in batches): PutEvent returns
// once its event is in the journal, and the committer copies journaled
// events into the bbolt store with its next transaction, lazily, so many
// webhooks share one bbolt commit. Open copies whatever a crash left in
// the journal before anything else reads the store, so an acknowledged
// event is never lost; copying is idempotent by event id.
//
// File layout (<store path>.journal):
//
//	header, 4096 bytes: magic (8) | epoch (8) | crc32c of both (4) | zeros
//	records:            length (4) | crc32c of epoch and body (4) | body
//	body:               length of the event's JSON (4) | JSON without payload | payload
//
// The file is reused: once every journaled event is in bbolt, the journal
// starts over at the first record with a new random epoch, so records
// left from an earlier epoch end the replay like a torn tail does.
const (
	journalMagic  = "SBJRNL01"
	journalHeader = 4096
	journalPage   = 4096
	// journalPrealloc is written (zeros) when the file is made, so an
	// append overwrites allocated blocks and fdatasync has no size or
	// extent change to journal in the file system.
	journalPrealloc = 16 << 20
	// journalRestart: past this offset the journal starts over as soon as
	// everything in it is applied.
	journalRestart = 1 << 20
	// journalLimit: past this offset appends wait until everything is
	// applied and the journal has started over. It bounds the file and
	// the events held in memory until they are applied.
	journalLimit = journalPrealloc
	// maxJournalRecord refuses a record no webhook can produce (the body
	// limit is a few MiB) and ends the replay at a garbled length.
	maxJournalRecord = 64 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errJournalHeader: the header is missing or torn. Only a restart writes
// it, and a restart happens only when every journaled event was applied,
// so there is nothing to replay.
var errJournalHeader = errors.New("store: journal header unreadable")

// journalFile is the file and where the next record goes. It is used by
// one goroutine at a time (the journal writer, or Open and Close).
type journalFile struct {
	f     *os.File
	path  string
	sync  bool
	epoch [8]byte
	off   int64
	// restartAt and limit are journalRestart and journalLimit (smaller
	// in tests).
	restartAt, limit int64
}

// openJournal opens (creating and preallocating it when missing) the
// journal at path and returns the events of the current epoch, in the
// order they were written. It does not start over: the caller does that
// once the events are safely in bbolt.
func openJournal(path string, sync bool) (*journalFile, []Event, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("store: open journal %s: %w", path, err)
	}
	j := &journalFile{f: f, path: path, sync: sync, restartAt: journalRestart, limit: journalLimit}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("store: journal %s: %w", path, err)
	}
	if sync && st.Size() < journalPrealloc {
		if err := j.preallocate(st.Size()); err != nil {
			f.Close()
			return nil, nil, err
		}
		// A new file's name must be durable before anything it holds
		// is acknowledged.
		if err := SyncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("store: journal %s: %w", path, err)
		}
	}
	evs, err := j.read()
	if err != nil && !errors.Is(err, errJournalHeader) {
		f.Close()
		return nil, nil, err
	}
	return j, evs, nil
}

// journaledEvents counts the events a closed store's journal at path still
// holds (none when there is no journal), without changing it.
func journaledEvents(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: open journal %s: %w", path, err)
	}
	defer f.Close()
	evs, err := (&journalFile{f: f, path: path}).read()
	if err != nil && !errors.Is(err, errJournalHeader) {
		return 0, err
	}
	return len(evs), nil
}

func (j *journalFile) preallocate(from int64) error {
	zeros := make([]byte, 1<<20)
	for off := from; off < journalPrealloc; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), journalPrealloc-off)
		if _, err := j.f.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("store: preallocate journal %s: %w", j.path, err)
		}
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("store: preallocate journal %s: %w", j.path, err)
	}
	return nil
}

// read returns the records of the header's epoch, up to the first one
// that is torn, garbled or of another epoch.
func (j *journalFile) read() ([]Event, error) {
	st, err := j.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("store: journal %s: %w", j.path, err)
	}
	head := make([]byte, 20)
	if _, err := j.f.ReadAt(head, 0); err != nil ||
		string(head[:8]) != journalMagic || crc32.Checksum(head[:16], crcTable) != binary.LittleEndian.Uint32(head[16:]) {
		return nil, errJournalHeader
	}
	copy(j.epoch[:], head[8:16])
	var evs []Event
	var frame [8]byte
	for off := int64(journalHeader); ; {
		if _, err := j.f.ReadAt(frame[:], off); err != nil {
			return evs, nil
		}
		n := binary.LittleEndian.Uint32(frame[:4])
		if n == 0 && off%journalPage != 0 {
			// The zeros that pad a write to its page: the next write
			// starts on the next page.
			off += journalPage - off%journalPage
			continue
		}
		if n < 4 || n > maxJournalRecord || off+8+int64(n) > st.Size() {
			return evs, nil
		}
		body := make([]byte, n)
		if _, err := j.f.ReadAt(body, off+8); err != nil {
			return evs, nil
		}
		if crc32.Update(crc32.Checksum(j.epoch[:], crcTable), crcTable, body) != binary.LittleEndian.Uint32(frame[4:]) {
			return evs, nil
		}
		ev, err := decodeJournalEvent(body)
		if err != nil {
			// The checksum matched, so this is no torn write: a bug
			// or a foreign file. Refuse rather than skip an event.
			return nil, fmt.Errorf("store: journal %s: record at offset %d: %w", j.path, off, err)
		}
		evs = append(evs, ev)
		off += 8 + int64(n)
	}
}

// restart begins a new epoch: the header is rewritten and synced before
// any record of the new epoch is written, and the records of the old one
// no longer replay.
func (j *journalFile) restart() error {
	if _, err := rand.Read(j.epoch[:]); err != nil {
		return fmt.Errorf("store: journal epoch: %w", err)
	}
	head := make([]byte, 20)
	copy(head, journalMagic)
	copy(head[8:], j.epoch[:])
	binary.LittleEndian.PutUint32(head[16:], crc32.Checksum(head[:16], crcTable))
	if _, err := j.f.WriteAt(head, 0); err != nil {
		return fmt.Errorf("store: journal %s: write header: %w", j.path, err)
	}
	if err := j.syncData(); err != nil {
		return err
	}
	j.off = journalHeader
	return nil
}

// append writes records (framed by frame) at the end and makes them
// durable. On error the offset stays, so the next append overwrites
// whatever part of them reached the disk. The write is padded with zeros
// to a whole page, so the next one starts on a page of its own: a page
// still being written back by the last fdatasync would make it wait
// (stable pages), and zeros end a replay like the end of the journal.
func (j *journalFile) append(records []byte) error {
	if pad := (journalPage - len(records)%journalPage) % journalPage; pad > 0 {
		records = append(records, make([]byte, pad)...)
	}
	if _, err := j.f.WriteAt(records, j.off); err != nil {
		return fmt.Errorf("store: journal %s: write: %w", j.path, err)
	}
	if err := j.syncData(); err != nil {
		return err
	}
	j.off += int64(len(records))
	return nil
}

func (j *journalFile) syncData() error {
	if !j.sync {
		return nil
	}
	if err := fdatasync(j.f); err != nil {
		return fmt.Errorf("store: journal %s: sync: %w", j.path, err)
	}
	return nil
}

// frame appends ev's record, for the current epoch, to buf.
func (j *journalFile) frame(buf []byte, ev Event) ([]byte, error) {
	payload := ev.Payload
	ev.Payload = nil
	meta, err := json.Marshal(ev)
	if err != nil {
		return buf, fmt.Errorf("store: journal event %s: %w", ev.ID, err)
	}
	n := 4 + len(meta) + len(payload)
	if n > maxJournalRecord {
		return buf, fmt.Errorf("store: event %s is %d bytes, more than the journal takes", ev.ID, n)
	}
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(n))
	buf = append(buf, 0, 0, 0, 0)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(meta)))
	buf = append(buf, meta...)
	buf = append(buf, payload...)
	sum := crc32.Update(crc32.Checksum(j.epoch[:], crcTable), crcTable, buf[start+8:])
	binary.LittleEndian.PutUint32(buf[start+4:], sum)
	return buf, nil
}

func decodeJournalEvent(body []byte) (Event, error) {
	n := int(binary.LittleEndian.Uint32(body))
	if n > len(body)-4 {
		return Event{}, errors.New("event longer than its record")
	}
	var ev Event
	if err := json.Unmarshal(body[4:4+n], &ev); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if p := body[4+n:]; len(p) > 0 {
		ev.Payload = bytes.Clone(p)
	}
	return ev, nil
}

func (j *journalFile) close() error {
	if err := j.f.Close(); err != nil {
		return fmt.Errorf("store: close journal %s: %w", j.path, err)
	}
	return nil
}

// ingest is the journal's writer and the set of events journaled but not
// yet applied to bbolt.
type ingest struct {
	file *journalFile
	reqs chan *journalReq
	// stopped is closed when the writer has returned.
	stopped chan struct{}
	// nudge asks the committer for a commit (urgent: at once; otherwise
	// lazily), so journaled events get applied without anyone waiting.
	nudge func(urgent bool)

	mu sync.Mutex
	// inflight: every event being journaled or journaled and not yet in
	// bbolt, by id, so a second delivery of it is answered without
	// storing it twice.
	inflight map[string]*journalReq
	// journaled: in journal order, those not yet applied.
	journaled []*journalReq
	// nJournaled numbers events since Open (journalReq.jseq): settle
	// waits until none up to what it was is still journaled; appliedCh
	// is closed at each apply and at a failed commit.
	nJournaled uint64
	appliedCh  chan struct{}
	// byOrder counts the pending events in journaled by order key.
	byOrder map[string]int
	// applyErr is the last failed commit's error, nil once one succeeds.
	applyErr error
	// drained is signalled when journaled becomes empty or a commit
	// fails (the writer waits on it when the file is full).
	drained *sync.Cond
}

// journalReq is one PutEvent's event on its way through the journal.
type journalReq struct {
	ev   Event
	done chan struct{}
	err  error
	// jseq numbers journaled events since Open, in journal order.
	jseq uint64
}

func newIngest(file *journalFile, nudge func(bool)) *ingest {
	in := &ingest{file: file, reqs: make(chan *journalReq, maxCommitBatch), stopped: make(chan struct{}),
		nudge: nudge, inflight: map[string]*journalReq{}, byOrder: map[string]int{}}
	in.drained = sync.NewCond(&in.mu)
	return in
}

// writer journals queued events: everything queued while the previous
// write was syncing goes in one write and one fdatasync.
func (in *ingest) writer() {
	defer close(in.stopped)
	var buf []byte
	for r := range in.reqs {
		batch := takeReady(in.reqs, []*journalReq{r}, maxCommitBatch)
		buf = in.write(buf[:0], batch)
		if cap(buf) > 4<<20 {
			buf = nil
		}
	}
}

func (in *ingest) write(buf []byte, batch []*journalReq) []byte {
	err := in.makeRoom()
	var framed []*journalReq
	for _, r := range batch {
		if err != nil {
			r.err = err
			continue
		}
		var ferr error
		if buf, ferr = in.file.frame(buf, r.ev); ferr != nil {
			r.err = ferr
			continue
		}
		framed = append(framed, r)
	}
	if err == nil && len(framed) > 0 {
		err = in.file.append(buf)
	}
	urgent := false
	in.mu.Lock()
	for _, r := range framed {
		if err != nil {
			r.err = err
			continue
		}
		in.nJournaled++
		r.jseq = in.nJournaled
		in.journaled = append(in.journaled, r)
		if r.ev.State == EventPending {
			in.byOrder[r.ev.OrderKey]++
		}
		urgent = urgent || r.ev.Urgent
	}
	for _, r := range batch {
		if r.err != nil {
			delete(in.inflight, r.ev.ID)
		}
	}
	queued := len(in.journaled) > 0
	in.mu.Unlock()
	if queued {
		in.nudge(urgent)
	}
	for _, r := range batch {
		close(r.done)
	}
	return buf
}

// makeRoom starts the journal over when everything in it is applied and
// it has grown past journalRestart; past journalLimit it first waits for
// the committer to apply everything.
func (in *ingest) makeRoom() error {
	if in.file.off < in.file.restartAt {
		return nil
	}
	in.mu.Lock()
	for in.file.off >= in.file.limit && len(in.journaled) > 0 {
		in.applyErr = nil
		in.mu.Unlock()
		in.nudge(true)
		in.mu.Lock()
		for len(in.journaled) > 0 && in.applyErr == nil {
			in.drained.Wait()
		}
		if err := in.applyErr; err != nil {
			// bbolt cannot commit (a full disk, say): refuse new
			// events, so Stripe keeps them and retries, rather than
			// hold their requests until it can.
			in.mu.Unlock()
			return fmt.Errorf("store: the journal is full and its events cannot be stored: %w", err)
		}
	}
	empty := len(in.journaled) == 0
	in.mu.Unlock()
	if !empty {
		return nil
	}
	return in.file.restart()
}

func (in *ingest) journaledCount() uint64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.nJournaled
}

// appliedUpTo reports whether the events journaled up to jseq n (only
// the payments among them when urgentOnly) are all applied; if not,
// applied is closed at the next apply (or failed commit), and err is the
// last commit's failure.
func (in *ingest) appliedUpTo(n uint64, urgentOnly bool) (done bool, applied <-chan struct{}, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	done = true
	for _, r := range in.journaled {
		if r.jseq > n {
			break
		}
		if !urgentOnly || r.ev.Urgent {
			done = false
			break
		}
	}
	if done {
		return true, nil, nil
	}
	if in.appliedCh == nil {
		in.appliedCh = make(chan struct{})
	}
	return false, in.appliedCh, in.applyErr
}

// appliedSignal is closed at the next apply: the worker waits on it for
// events that a read did not wait for.
func (in *ingest) appliedSignal() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.appliedCh == nil {
		in.appliedCh = make(chan struct{})
	}
	return in.appliedCh
}

// signalApplied wakes settle's waiters; in.mu is held.
func (in *ingest) signalApplied() {
	if in.appliedCh != nil {
		close(in.appliedCh)
		in.appliedCh = nil
	}
}

// unapplied reports whether some journaled event is not yet in bbolt.
func (in *ingest) unapplied() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.journaled) > 0
}

// unappliedBeyond reports whether more than n journaled events wait.
func (in *ingest) unappliedBeyond(n int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.journaled) > n
}

// journaledPending reports whether a pending event of orderKey is
// journaled and not yet applied.
func (in *ingest) journaledPending(orderKey string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.byOrder[orderKey] > 0
}

// pending returns up to max journaled events to apply, in journal order.
// When more wait, payments go first (a buyer must not wait for a burst of
// refunds about other orders to be stored), but never ahead of an earlier
// event of their own order, whose order of arrival the worker keeps.
func (in *ingest) pending(max int) []*journalReq {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.journaled) <= max {
		return in.journaled[:len(in.journaled):len(in.journaled)]
	}
	picked := make(map[*journalReq]bool, max)
	behind := map[string]bool{}
	for _, r := range in.journaled {
		if len(picked) == max {
			break
		}
		if r.ev.Urgent && (r.ev.OrderKey == "" || !behind[r.ev.OrderKey]) {
			picked[r] = true
			continue
		}
		behind[r.ev.OrderKey] = true
	}
	for _, r := range in.journaled {
		if len(picked) == max {
			break
		}
		picked[r] = true
	}
	out := make([]*journalReq, 0, max)
	for _, r := range in.journaled {
		if picked[r] {
			out = append(out, r)
		}
	}
	return out
}

// applyFailed records that a commit (and so the apply) failed.
func (in *ingest) applyFailed(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.applyErr = err
	in.drained.Broadcast()
	in.signalApplied()
}

// applied forgets journaled events now in bbolt (bbolt answers for them
// from now on).
func (in *ingest) applied(rs []*journalReq) {
	if len(rs) == 0 {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.applyErr = nil
	done := make(map[*journalReq]bool, len(rs))
	for _, r := range rs {
		done[r] = true
		delete(in.inflight, r.ev.ID)
		if r.ev.State == EventPending {
			if in.byOrder[r.ev.OrderKey]--; in.byOrder[r.ev.OrderKey] <= 0 {
				delete(in.byOrder, r.ev.OrderKey)
			}
		}
	}
	rest := make([]*journalReq, 0, len(in.journaled)-len(rs))
	for _, r := range in.journaled {
		if !done[r] {
			rest = append(rest, r)
		}
	}
	in.journaled = rest
	in.signalApplied()
	if len(in.journaled) == 0 {
		in.drained.Broadcast()
	}
}
