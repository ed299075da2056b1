package outbox

import (
	"container/heap"
	"context"
	"time"

	"golang.org/x/time/rate"

	"github.com/shopbot/shopbot/notify"
)

// lanes is the number of priorities: notify.Urgent, Normal and Bulk.
const lanes = 3

// item is one message waiting to be sent.
type item struct {
	chat     int64
	prio     notify.Priority
	seq      uint64
	send     func(context.Context) error
	done     func(error)
	ctx      context.Context // the waiting caller's, for Send; nil for Post
	attempts int
	// dispatched is set (under the outbox's lock) when the message is
	// handed to a sender: from then on its result is what happened.
	dispatched bool
}

// chatQ is one chat's queue and its own rate. A chat is in at most one of
// the scheduler's heaps at a time (where says which), or in none while a
// message of it is being sent.
type chatQ struct {
	id      int64
	lanes   [lanes][]*item
	lim     *rate.Limiter
	hold    time.Time // no sends before this (after a 429)
	busy    bool      // a message of this chat is being sent
	readyAt time.Time // waiting heap key
	idleAt  time.Time // idle heap key: when forgetting it loses nothing
	where   *chatHeap
	index   int
}

func (c *chatQ) queued() int {
	n := 0
	for _, l := range c.lanes {
		n += len(l)
	}
	return n
}

// ordinary counts the messages that may be dropped (all but Urgent).
func (c *chatQ) ordinary() int { return len(c.lanes[notify.Normal]) + len(c.lanes[notify.Bulk]) }

// head is the message that goes next: the oldest of the highest priority.
func (c *chatQ) head() *item {
	for _, l := range c.lanes {
		if len(l) > 0 {
			return l[0]
		}
	}
	return nil
}

func (c *chatQ) popHead() *item {
	for p := range c.lanes {
		if len(c.lanes[p]) > 0 {
			return c.popLane(p)
		}
	}
	return nil
}

func (c *chatQ) popLane(p int) *item {
	it := c.lanes[p][0]
	c.lanes[p][0] = nil
	c.lanes[p] = c.lanes[p][1:]
	return it
}

// scheduler decides which message goes next. It is not safe for
// concurrent use (Outbox holds a lock around it) and never reads a clock:
// every method takes now, so tests drive it with exact times.
type scheduler struct {
	cfg    Options
	global *rate.Limiter
	hold   time.Time // everything waits until this (the bot is limited)
	chats  map[int64]*chatQ
	seq    uint64

	ready   chatHeap // chats that may send now, by head priority then age
	waiting chatHeap // chats with messages that must wait, by readyAt
	idle    chatHeap // empty chats whose limits still matter, by idleAt

	ordinary int      // queued Normal and Bulk messages, all chats
	urgent   int      // queued Urgent messages
	recent   []recent // the last 429s, to tell a chat's limit from the bot's

	stats Stats
}

type recent struct {
	chat int64
	at   time.Time
}

func newScheduler(cfg Options) *scheduler {
	s := &scheduler{
		cfg:    cfg,
		global: rate.NewLimiter(cfg.Rate, cfg.Burst),
		chats:  map[int64]*chatQ{},
	}
	s.ready.less = func(a, b *chatQ) bool {
		ha, hb := a.head(), b.head()
		if ha.prio != hb.prio {
			return ha.prio < hb.prio
		}
		return ha.seq < hb.seq
	}
	s.waiting.less = func(a, b *chatQ) bool { return a.readyAt.Before(b.readyAt) }
	s.idle.less = func(a, b *chatQ) bool { return a.idleAt.Before(b.idleAt) }
	return s
}

// enqueue adds a message. It fails (ErrDropped) only for a non-urgent
// message that does not fit anywhere; to make room it drops the oldest
// non-urgent message of the same chat, never another chat's.
func (s *scheduler) enqueue(it *item, now time.Time) error {
	c := s.chats[it.chat]
	if c == nil {
		r, burst := s.cfg.ChatLimit(it.chat)
		c = &chatQ{id: it.chat, lim: rate.NewLimiter(r, burst), index: -1}
		s.chats[it.chat] = c
	}
	if it.prio != notify.Urgent {
		if c.ordinary() >= s.cfg.ChatCap || s.ordinary >= s.cfg.TotalCap {
			if c.ordinary() == 0 {
				s.stats.Dropped++
				s.place(c, now) // a new chat must not stay in the map unplaced
				return ErrDropped
			}
			s.dropOldest(c)
		}
		s.ordinary++
	} else {
		s.urgent++
	}
	s.seq++
	it.seq = s.seq
	c.lanes[it.prio] = append(c.lanes[it.prio], it)
	s.place(c, now)
	return nil
}

// dropOldest drops c's oldest bulk message, else its oldest ordinary one.
func (s *scheduler) dropOldest(c *chatQ) {
	p := int(notify.Bulk)
	if len(c.lanes[p]) == 0 {
		p = int(notify.Normal)
	}
	it := c.popLane(p)
	s.ordinary--
	s.stats.Dropped++
	it.done(ErrDropped)
}

// next returns the message to send now, or how long to wait before
// asking again (negative: nothing is queued). The chat of a returned
// message is busy until done.
func (s *scheduler) next(now time.Time) (*item, time.Duration) {
	for s.waiting.Len() > 0 && !s.waiting.peek().readyAt.After(now) {
		c := s.waiting.pop()
		s.ready.push(c)
	}
	for s.idle.Len() > 0 && !s.idle.peek().idleAt.After(now) {
		c := s.idle.pop()
		delete(s.chats, c.id)
	}
	for {
		if s.ready.Len() == 0 {
			if s.waiting.Len() == 0 {
				return nil, -1
			}
			return nil, s.waiting.peek().readyAt.Sub(now)
		}
		if now.Before(s.hold) {
			return nil, s.hold.Sub(now)
		}
		if d := tokenWait(s.global, now); d > 0 {
			return nil, d
		}
		c := s.ready.pop()
		it := c.popHead()
		s.unqueued(it)
		if it.ctx != nil && it.ctx.Err() != nil {
			// Its caller gave up; the slot goes to the next message.
			it.done(it.ctx.Err())
			s.place(c, now)
			continue
		}
		c.lim.AllowN(now, 1)
		s.global.AllowN(now, 1)
		c.busy = true
		it.dispatched = true
		s.stats.Sent++
		return it, 0
	}
}

// withdraw takes a message its caller stopped waiting for out of its
// chat's queue, so it neither waits for its turn nor holds up Close.
func (s *scheduler) withdraw(it *item, now time.Time) {
	c := s.chats[it.chat]
	if c == nil || it.dispatched {
		return
	}
	lane := c.lanes[it.prio]
	for i, q := range lane {
		if q == it {
			c.lanes[it.prio] = append(lane[:i:i], lane[i+1:]...)
			s.unqueued(it)
			s.place(c, now)
			return
		}
	}
}

func (s *scheduler) unqueued(it *item) {
	if it.prio == notify.Urgent {
		s.urgent--
	} else {
		s.ordinary--
	}
}

// done records the result of sending it. A 429 holds the chat for its
// retry_after and puts the message back at the head of its lane (up to
// MaxAttempts); 429s for several chats at once hold everything, since
// then it is the bot that is limited.
func (s *scheduler) done(it *item, now time.Time, err error) {
	c := s.chats[it.chat]
	c.busy = false
	wait, limited := time.Duration(0), false
	if err != nil && s.cfg.RetryAfter != nil {
		wait, limited = s.cfg.RetryAfter(err)
	}
	if !limited {
		s.place(c, now)
		it.done(err)
		return
	}
	s.stats.RateLimited++
	if wait <= 0 {
		wait = time.Second
	}
	s.holdChat(c, now.Add(wait))
	if s.botLimited(it.chat, now) && s.hold.Before(now.Add(wait)) {
		s.hold = now.Add(wait)
		s.stats.GlobalHolds++
	}
	it.attempts++
	if it.attempts >= s.cfg.MaxAttempts || wait > s.cfg.MaxRetryAfter {
		s.place(c, now)
		it.done(err)
		return
	}
	c.lanes[it.prio] = append([]*item{it}, c.lanes[it.prio]...)
	if it.prio == notify.Urgent {
		s.urgent++
	} else {
		s.ordinary++
	}
	s.place(c, now)
}

// botLimited reports whether 429s came for three different chats within
// a second: Telegram limits the whole bot then, not one chat.
func (s *scheduler) botLimited(chat int64, now time.Time) bool {
	s.recent = append(s.recent, recent{chat, now})
	if len(s.recent) > 3 {
		s.recent = s.recent[len(s.recent)-3:]
	}
	if len(s.recent) < 3 || now.Sub(s.recent[0].at) > time.Second {
		return false
	}
	a, b, c := s.recent[0].chat, s.recent[1].chat, s.recent[2].chat
	return a != b && b != c && a != c
}

// holdChat keeps chat quiet until until.
func (s *scheduler) holdChat(c *chatQ, until time.Time) {
	if c.hold.Before(until) {
		c.hold = until
	}
}

// holdID is holdChat for a chat that may have no queue yet (a 429 on a
// call that does not go through the outbox).
func (s *scheduler) holdID(chat int64, until, now time.Time) {
	c := s.chats[chat]
	if c == nil {
		r, burst := s.cfg.ChatLimit(chat)
		c = &chatQ{id: chat, lim: rate.NewLimiter(r, burst), index: -1}
		s.chats[chat] = c
	}
	s.holdChat(c, until)
	s.place(c, now)
}

// place puts c in the heap its state calls for.
func (s *scheduler) place(c *chatQ, now time.Time) {
	if c.where != nil {
		c.where.remove(c)
	}
	if c.busy {
		return
	}
	if c.queued() == 0 {
		c.idleAt = laterOf(c.hold, now.Add(refillWait(c.lim, now)))
		s.idle.push(c)
		return
	}
	c.readyAt = laterOf(c.hold, now.Add(tokenWait(c.lim, now)))
	if c.readyAt.After(now) {
		s.waiting.push(c)
	} else {
		s.ready.push(c)
	}
}

// drain empties every queue, telling each waiting caller err.
func (s *scheduler) drain(err error) {
	for _, c := range s.chats {
		for p := range c.lanes {
			for _, it := range c.lanes[p] {
				s.unqueued(it)
				s.stats.Dropped++
				it.done(err)
			}
			c.lanes[p] = nil
		}
	}
}

// tokenWait is how long until lim has a whole token.
func tokenWait(lim *rate.Limiter, now time.Time) time.Duration {
	if lim.Limit() == rate.Inf {
		return 0
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	if lim.Limit() <= 0 {
		return time.Hour
	}
	return time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second))
}

// refillWait is how long until lim's bucket is full again.
func refillWait(lim *rate.Limiter, now time.Time) time.Duration {
	if lim.Limit() == rate.Inf || lim.Limit() <= 0 {
		return 0
	}
	missing := float64(lim.Burst()) - lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(lim.Limit()) * float64(time.Second))
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// chatHeap is a min-heap of chats under less; each chat records its
// index so it can be removed from the middle.
type chatHeap struct {
	less  func(a, b *chatQ) bool
	items []*chatQ
}

func (h *chatHeap) Len() int           { return len(h.items) }
func (h *chatHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *chatHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index = i
	h.items[j].index = j
}
func (h *chatHeap) Push(x any) {
	c := x.(*chatQ)
	c.index = len(h.items)
	c.where = h
	h.items = append(h.items, c)
}
func (h *chatHeap) Pop() any {
	n := len(h.items) - 1
	c := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	c.index = -1
	c.where = nil
	return c
}

func (h *chatHeap) push(c *chatQ)   { heap.Push(h, c) }
func (h *chatHeap) pop() *chatQ     { return heap.Pop(h).(*chatQ) }
func (h *chatHeap) peek() *chatQ    { return h.items[0] }
func (h *chatHeap) remove(c *chatQ) { heap.Remove(h, c.index) }
