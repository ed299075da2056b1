package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// stripeEventsKept is how far back Stripe's Events API reaches; a rebuilt
// store's first catch-up asks for all of it.
const stripeEventsKept = 30 * 24 * time.Hour

// sale is what Stripe says about one shopbot order: a Checkout session
// or a subscription carrying shopbot's metadata.
type sale struct {
	orderID   string
	mode      string
	product   string
	who       identity.Identity
	customer  string
	session   string
	sub       string
	payment   string
	periodEnd time.Time
	ended     bool
	created   time.Time
}

// rebuildReport is what the seller reads when rebuild ends.
type rebuildReport struct {
	orders, licenses, activations, revoked int
	problems                               []string
}

func (r *rebuildReport) miss(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// cmdRebuild makes a new store from the outside records when there is no
// backup: every AuthForge license labelled "shopbot:<order id>" becomes a
// license and its order again, owned by the buyer Stripe's session or
// subscription metadata names, and every HWID bound to it that is a chat
// identity becomes an activation without a session (the gate validates it
// at the next check). It never writes over an existing store.
func cmdRebuild(ctx context.Context, args []string, env lookupEnv, stdout, stderr io.Writer, h hooks) error {
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	path, err := parseFlags(fs, args, env, stderr)
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := loadConfig(path, env)
	if err != nil {
		return err
	}
	if !cfg.StripeEnabled() {
		return errors.New("rebuild reads the sales from Stripe, and this shop has no [stripe] keys (it sells only for Telegram Stars): restore a backup with `shopbot restore` instead")
	}
	target := cfg.Store.Path
	if _, err := os.Stat(target); err == nil {
		return fmt.Errorf("%s exists; rebuild only makes a new store and never writes over one: restore a backup with `shopbot restore`, or move the file away first", target)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	key, err := cfg.StoreKey()
	if err != nil {
		return fmt.Errorf("store.encryption_key: %w", err)
	}
	log := newLogger(stderr, env, cfg.Log)
	af, err := newAuthForge(cfg, h.httpClient, log)
	if err != nil {
		return err
	}
	sc, err := newStripe(cfg.Stripe, h.httpClient, log)
	if err != nil {
		return err
	}
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	sales, err := stripeSales(ctx, sc, log)
	if err != nil {
		return err
	}
	// Built under another name and renamed at the end: a rebuild that
	// fails half way leaves no half store where shopbot would start.
	tmp := target + ".rebuilding"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, err := store.Open(ctx, store.Options{Path: tmp, EncryptionKey: key, Logger: log})
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	rep, err := fill(ctx, db, af, cfg, sales, now())
	if err == nil {
		err = db.Close()
	} else {
		db.Close()
	}
	if err != nil {
		return err
	}
	// A link, unlike a rename, fails when target appeared meanwhile.
	if err := os.Link(tmp, target); err != nil {
		return fmt.Errorf("put the rebuilt store at %s: %w", target, err)
	}
	if err := store.SyncDir(filepath.Dir(target)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rebuilt %s: %d orders, %d licenses (%d revoked), %d activations; sessions refresh at each buyer's next gated command\n",
		target, rep.orders, rep.licenses, rep.revoked, rep.activations)
	fmt.Fprintf(stdout, "on the next start, Stripe events of the last 30 days are re-read; a payment among them without a license gets one (found by label if AuthForge has it)\n")
	if len(rep.problems) > 0 {
		fmt.Fprintf(stdout, "could not be matched (%d):\n", len(rep.problems))
		for _, p := range rep.problems {
			fmt.Fprintf(stdout, "  - %s\n", p)
		}
	}
	return nil
}

// stripeSales lists the Checkout sessions and subscriptions carrying
// shopbot's metadata, by order id.
func stripeSales(ctx context.Context, sc *client.API, log *slog.Logger) (map[string]sale, error) {
	out := map[string]sale{}
	sp := &stripe.CheckoutSessionListParams{Status: stripe.String("complete")}
	sp.Context = ctx
	sp.Limit = stripe.Int64(100)
	it := sc.CheckoutSessions.List(sp)
	for it.Next() {
		s := it.CheckoutSession()
		who, product, ok := saleBuyer(s.Metadata, s.ClientReferenceID)
		if !ok {
			continue
		}
		x := sale{orderID: s.ID, mode: config.ModePayment, product: product, who: who, session: s.ID, created: time.Unix(s.Created, 0).UTC()}
		if s.Customer != nil {
			x.customer = s.Customer.ID
		}
		if s.PaymentIntent != nil {
			x.payment = s.PaymentIntent.ID
		}
		if s.Subscription != nil && s.Subscription.ID != "" {
			// A subscription's order is the subscription; its own
			// record (below) has the period.
			x.orderID, x.mode, x.sub = s.Subscription.ID, config.ModeSubscription, s.Subscription.ID
			if prev, ok := out[x.orderID]; ok {
				prev.session = s.ID
				out[x.orderID] = prev
				continue
			}
		}
		out[x.orderID] = x
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("list Stripe Checkout sessions: %w", err)
	}
	subp := &stripe.SubscriptionListParams{Status: stripe.String("all")}
	subp.Context = ctx
	subp.Limit = stripe.Int64(100)
	sit := sc.Subscriptions.List(subp)
	for sit.Next() {
		s := sit.Subscription()
		prev, known := out[s.ID]
		who, product, ok := saleBuyer(s.Metadata, "")
		if !ok && !known {
			continue
		}
		x := prev
		if !known {
			x = sale{orderID: s.ID, mode: config.ModeSubscription, product: product, who: who, sub: s.ID, created: time.Unix(s.Created, 0).UTC()}
		}
		if s.Customer != nil {
			x.customer = s.Customer.ID
		}
		x.periodEnd = time.Unix(s.CurrentPeriodEnd, 0).UTC()
		x.ended = s.Status == stripe.SubscriptionStatusCanceled || s.Status == stripe.SubscriptionStatusUnpaid ||
			s.Status == stripe.SubscriptionStatusIncompleteExpired
		out[s.ID] = x
	}
	if err := sit.Err(); err != nil {
		return nil, fmt.Errorf("list Stripe subscriptions: %w", err)
	}
	log.Info("stripe sales listed", "orders", len(out))
	return out, nil
}

// saleBuyer reads the buyer and product from shopbot's metadata.
func saleBuyer(meta map[string]string, clientRef string) (identity.Identity, string, bool) {
	product := meta[checkout.MetaProduct]
	raw := meta[checkout.MetaIdentity]
	if raw == "" {
		raw = clientRef
	}
	who, err := identity.Parse(raw)
	if product == "" || err != nil {
		return identity.Identity{}, "", false
	}
	return who, product, true
}

// fill walks AuthForge's licenses and writes what it can match.
func fill(ctx context.Context, db *store.DB, af *authforge.Client, cfg config.Config, sales map[string]sale, now time.Time) (rebuildReport, error) {
	var rep rebuildReport
	products := map[string]config.Product{}
	for _, p := range cfg.Products {
		products[p.ID] = p
	}
	licensed := map[string]bool{}
	cursor := ""
	for {
		page, next, err := af.ListLicenses(ctx, cursor, 100)
		if err != nil {
			return rep, fmt.Errorf("list AuthForge licenses: %w", err)
		}
		for _, l := range page {
			if !strings.HasPrefix(l.Label, "shopbot:") {
				continue
			}
			orderID := strings.TrimPrefix(l.Label, "shopbot:")
			licensed[orderID] = true
			if err := restoreLicense(ctx, db, l, orderID, sales, products, now, &rep); err != nil {
				return rep, err
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	var unlicensed []string
	for id, s := range sales {
		if !licensed[id] && !s.ended {
			unlicensed = append(unlicensed, fmt.Sprintf("Stripe %s (%s, %s) has no license at AuthForge; it gets one at the next start if its event is within Stripe's 30 days, else grant one with /grant", id, s.product, s.who))
		}
	}
	slices.Sort(unlicensed)
	rep.problems = append(rep.problems, unlicensed...)
	if err := db.PutMeta(ctx, catchUpMeta, now.Add(-stripeEventsKept).UTC().Format(time.RFC3339)); err != nil {
		return rep, err
	}
	return rep, db.MarkRecovered(ctx, now)
}

// restoreLicense writes one AuthForge license with its order and the
// activations of the chat identities bound to it.
func restoreLicense(ctx context.Context, db *store.DB, l authforge.License, orderID string, sales map[string]sale,
	products map[string]config.Product, now time.Time, rep *rebuildReport) error {
	masked := authforge.MaskKey(l.Key)
	s, ok := sales[orderID]
	if !ok {
		rep.miss("license %s (label %s): no Stripe Checkout session or subscription with shopbot metadata has that id (an admin grant, or a sale Stripe no longer lists); not restored: its holders can /activate it again", masked, l.Label)
		return nil
	}
	p, ok := products[s.product]
	if !ok {
		rep.miss("license %s (order %s): product %q is not in the config's [[products]]; not restored", masked, orderID, s.product)
		return nil
	}
	status := store.OrderFulfilled
	licStatus := store.LicenseActive
	if l.Status == "revoked" {
		status, licStatus = store.OrderRevoked, store.LicenseRevoked
		rep.revoked++
	} else if s.ended {
		status = store.OrderEnded
	}
	_, err := db.UpsertOrder(ctx, orderID, func(o *store.Order, _ bool) error {
		*o = store.Order{ID: orderID, Mode: s.mode, ProductID: p.ID, Identity: s.who, SessionID: s.session,
			SubscriptionID: s.sub, CustomerID: s.customer, PaymentIntentID: s.payment, Status: status,
			CreateAttempts: 1, PeriodEnd: s.periodEnd, Ended: s.ended, Delivered: true, CreatedAt: s.created, UpdatedAt: now}
		return nil
	})
	if err != nil {
		return fmt.Errorf("order %s: %w", orderID, err)
	}
	lic := store.License{Key: l.Key, ProductID: p.ID, Owner: s.who, OrderID: orderID, Status: licStatus,
		MaxSlots: l.MaxHWIDSlots, Label: l.Label, Source: "rebuild", CreatedAt: l.CreatedAt}
	if l.ExpiresAt != nil {
		lic.ExpiresAt = *l.ExpiresAt
	}
	if licStatus == store.LicenseRevoked {
		lic.RevokedAt = now
	}
	if _, err := db.AttachLicense(ctx, orderID, lic); err != nil {
		return fmt.Errorf("license %s: %w", masked, err)
	}
	rep.orders++
	rep.licenses++
	if licStatus == store.LicenseRevoked {
		return nil
	}
	for _, hwid := range l.HWIDList {
		who, err := identity.Parse(hwid)
		if err != nil {
			rep.miss("license %s: HWID %q is not a chat identity; that device keeps its slot but no chat access", masked, hwid)
			continue
		}
		// No session: the gate validates at the holder's next check.
		err = db.PutActivation(ctx, store.Activation{Identity: who, Key: l.Key, ProductID: p.ID,
			LicenseExpiresAt: lic.ExpiresAt, HWIDCount: len(l.HWIDList), MaxSlots: l.MaxHWIDSlots, ActivatedAt: now})
		if err != nil {
			return fmt.Errorf("activation of %s on %s: %w", who, masked, err)
		}
		rep.activations++
	}
	return nil
}
