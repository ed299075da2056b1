package notify

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/shopbot/shopbot/config"
)

type admins struct{ got []string }

func (a *admins) AlertAdmins(_ context.Context, text string) error {
	a.got = append(a.got, text)
	return nil
}

type channel struct {
	got  []string
	fail error
}

func (c *channel) PostFeed(_ context.Context, text string) error {
	if c.fail != nil {
		return c.fail
	}
	c.got = append(c.got, text)
	return nil
}
func (c *channel) FeedPlace() string { return "test channel" }

func TestKindsMatchConfig(t *testing.T) {
	var names []string
	for _, k := range Kinds {
		names = append(names, string(k))
	}
	if !slices.Equal(names, config.AlertEvents) {
		t.Fatalf("notify.Kinds %v, config.AlertEvents %v", names, config.AlertEvents)
	}
}

func TestFeedFiltersAndRoutes(t *testing.T) {
	ctx := context.Background()
	adm := &admins{}
	f := NewFeed(FeedOptions{Kinds: []Kind{KindSale, KindRefund}, Admins: adm})
	f.Alert(ctx, Sale{Product: "Pro", Amount: "20.00 USD", Rail: "stripe", Buyer: "tg:1"}.Alert())
	f.Alert(ctx, Alert{Kind: KindRenewal, Text: "renewed"})
	f.Alert(ctx, Alert{Kind: KindRefund, Text: "refunded"})
	if !f.flush(ctx, nil) || f.flush(ctx, nil) {
		t.Fatal("flush: want one message, then nothing left")
	}
	want := "New sale: Pro, 20.00 USD via stripe, buyer tg:1\nrefunded"
	if len(adm.got) != 1 || adm.got[0] != want {
		t.Fatalf("admins got %q, want [%q] (renewal filtered out)", adm.got, want)
	}

	ch := &channel{}
	adm = &admins{}
	f = NewFeed(FeedOptions{Channels: []Poster{ch}, Admins: adm})
	f.Alert(ctx, Alert{Kind: KindRenewal, Text: "renewed"})
	f.flush(ctx, nil)
	if len(ch.got) != 1 || ch.got[0] != "renewed" || len(adm.got) != 0 {
		t.Fatalf("with a channel: channel %q, admins %q", ch.got, adm.got)
	}

	// A channel that refuses (bot removed, no right to post) is a missing
	// permission: the admins get the line and why.
	ch.fail = errors.New("403 Forbidden")
	f.Alert(ctx, Alert{Kind: KindSale, Text: "sold"})
	f.flush(ctx, nil)
	if len(adm.got) != 1 || !strings.Contains(adm.got[0], "test channel refused") || !strings.HasSuffix(adm.got[0], "\nsold") {
		t.Fatalf("refused channel: admins got %q", adm.got)
	}
}

// TestFeedBurstIsBounded: a burst larger than the queue never blocks the
// caller; the lines beyond it are counted and told in one line.
func TestFeedBurstIsBounded(t *testing.T) {
	ctx := context.Background()
	adm := &admins{}
	f := NewFeed(FeedOptions{Admins: adm, Queue: 10, Lines: 4})
	for range 1000 {
		f.Alert(ctx, Alert{Kind: KindSale, Text: "sale"}) // would deadlock here if Alert blocked
	}
	for f.flush(ctx, nil) {
	}
	lines := 0
	for _, m := range adm.got {
		lines += strings.Count(m, "\n") + 1
	}
	if len(adm.got) != 3 || lines != 11 || !strings.Contains(adm.got[0], "…and 990 more alerts not listed (sale 990).") {
		t.Fatalf("got %d messages, %d lines: %q", len(adm.got), lines, adm.got)
	}
}
