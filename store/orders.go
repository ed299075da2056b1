package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/identity"
)

// OrderStatus is an order's fulfillment state.
type OrderStatus string

const (
	OrderPending   OrderStatus = "pending"
	OrderFulfilled OrderStatus = "fulfilled"
	OrderRevoked   OrderStatus = "revoked"
	OrderEnded     OrderStatus = "ended"
)

// Order is one paid (or about to be paid) Checkout session or subscription.
type Order struct {
	ID              string            `json:"id" rec:"1"`
	Mode            string            `json:"mode,omitempty" rec:"2"` // payment | subscription
	ProductID       string            `json:"product_id,omitempty" rec:"3"`
	Identity        identity.Identity `json:"identity,omitzero" rec:"4"`
	SessionID       string            `json:"session_id,omitempty" rec:"5"`
	SubscriptionID  string            `json:"subscription_id,omitempty" rec:"6"`
	CustomerID      string            `json:"customer_id,omitempty" rec:"7"`
	PaymentIntentID string            `json:"payment_intent_id,omitempty" rec:"8"`
	Status          OrderStatus       `json:"status" rec:"9"`
	// LicenseKey is sealed at rest in an encrypted store.
	LicenseKey     string `json:"license_key,omitempty" rec:"10"`
	CreateAttempts int    `json:"create_attempts,omitempty" rec:"11"`
	// PeriodEnd is the subscription's current_period_end as last seen.
	PeriodEnd     time.Time `json:"period_end,omitzero" rec:"12"`
	Ended         bool      `json:"ended,omitempty" rec:"13"`
	Delivered     bool      `json:"delivered,omitempty" rec:"14"`
	DeliveryError string    `json:"delivery_error,omitempty" rec:"15"`
	CreatedAt     time.Time `json:"created_at" rec:"16"`
	UpdatedAt     time.Time `json:"updated_at" rec:"17"`
	// Rail is how the order was paid: RailStripe (also when empty, as
	// orders from before rails were recorded) or RailStars.
	Rail string `json:"rail,omitempty" rec:"18"`
	// Amount is what the buyer paid for the first period, in the
	// currency's minor unit (whole Stars for XTR); zero when unknown.
	Amount   int64  `json:"amount,omitempty" rec:"19"`
	Currency string `json:"currency,omitempty" rec:"20"`
	// ChargeID is the Telegram Stars charge that paid the order (for a
	// Star subscription, its first payment, which names the subscription);
	// LastChargeID the latest one, which a refund gives back.
	ChargeID     string `json:"charge_id,omitempty" rec:"21"`
	LastChargeID string `json:"last_charge_id,omitempty" rec:"22"`
	// Canceled: the buyer canceled a Star subscription; it is not renewed
	// and ends with its paid period.
	Canceled bool `json:"canceled,omitempty" rec:"23"`
	// DuplicateCharges are the Stars charges, space-separated, that paid
	// this order again (two taps on Pay) and were refunded for it: their
	// refunds leave the order and its license alone.
	DuplicateCharges string `json:"duplicate_charges,omitempty" rec:"24"`
}

// IsDuplicateCharge reports whether chargeID is one of o's DuplicateCharges.
func (o Order) IsDuplicateCharge(chargeID string) bool {
	return chargeID != "" && slices.Contains(strings.Fields(o.DuplicateCharges), chargeID)
}

// AddDuplicateCharge records chargeID in o's DuplicateCharges, once.
func (o *Order) AddDuplicateCharge(chargeID string) {
	if chargeID == "" || o.IsDuplicateCharge(chargeID) {
		return
	}
	o.DuplicateCharges = strings.TrimSpace(o.DuplicateCharges + " " + chargeID)
}

// Payment rails.
const (
	RailStripe = "stripe"
	RailStars  = "stars"
)

// OrderRail is o's payment rail, RailStripe for orders recorded before
// rails were.
func (o Order) OrderRail() string {
	if o.Rail == "" {
		return RailStripe
	}
	return o.Rail
}

// GetOrder returns the order with that id.
func (db *DB) GetOrder(ctx context.Context, id string) (Order, error) {
	var o Order
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		o, _, err = db.getOrderTx(tx, id)
		return err
	})
	return o, err
}

// getOrderTx reports a missing order as exists=false with ErrNotFound, so
// callers that create on miss can tell it from an unreadable record.
func (db *DB) getOrderTx(tx *bolt.Tx, id string) (o Order, exists bool, err error) {
	raw := bucket(tx, bucketOrders).Get([]byte(id))
	if raw == nil {
		return Order{}, false, fmt.Errorf("store: order %s: %w", id, ErrNotFound)
	}
	if err := decodeRecord(raw, &o); err != nil {
		return Order{}, true, fmt.Errorf("store: decode order %s: %w", id, err)
	}
	if o.LicenseKey, err = db.crypt.open(aadOrderKey, o.LicenseKey); err != nil {
		return Order{}, true, fmt.Errorf("store: order %s: %w", id, err)
	}
	return o, true, nil
}

// UpsertOrder reads the order (a fresh pending one with that id when
// missing), lets fn change it and writes it back, all in one transaction,
// so concurrent deliveries of events about one order cannot lose each
// other's changes. An error from fn aborts the write and is returned as is.
// fn runs inside the transaction and must not call the DB.
func (db *DB) UpsertOrder(ctx context.Context, id string, fn func(o *Order, exists bool) error) (Order, error) {
	if err := checkID("order", id); err != nil {
		return Order{}, err
	}
	var out Order
	err := db.update(ctx, func(tx *bolt.Tx) error {
		old, exists, err := db.getOrderTx(tx, id)
		if exists && err != nil {
			return err
		}
		o := old
		if !exists {
			o = Order{ID: id, Status: OrderPending}
		}
		if fn != nil {
			if err := fn(&o, exists); err != nil {
				return err
			}
		}
		o.ID = id
		if o.Status == "" {
			o.Status = OrderPending
		}
		out, err = db.putOrderTx(tx, o, old, exists)
		return err
	})
	if err != nil {
		return Order{}, err
	}
	return out, nil
}

// putOrderTx writes o and moves its secondary index entries from old's ids
// to o's. Timestamps are set only where the caller left them unchanged, so
// a caller with an injected clock stays in control.
func (db *DB) putOrderTx(tx *bolt.Tx, o, old Order, exists bool) (Order, error) {
	// An identity that does not parse back would make the record unreadable.
	if !o.Identity.IsZero() {
		if err := o.Identity.Validate(); err != nil {
			return Order{}, fmt.Errorf("store: order %s: %w", o.ID, err)
		}
	}
	now := db.now()
	if o.CreatedAt.IsZero() {
		o.CreatedAt = now
	}
	if o.UpdatedAt.IsZero() || (exists && o.UpdatedAt.Equal(old.UpdatedAt)) {
		o.UpdatedAt = now
	}
	if err := reindex(bucket(tx, bucketOrdersPI), o.ID, old.PaymentIntentID, o.PaymentIntentID); err != nil {
		return Order{}, err
	}
	if err := reindex(bucket(tx, bucketOrdersSub), o.ID, old.SubscriptionID, o.SubscriptionID); err != nil {
		return Order{}, err
	}
	rec := o
	rec.LicenseKey = db.crypt.seal(aadOrderKey, o.LicenseKey)
	if err := putRecord(bucket(tx, bucketOrders), []byte(o.ID), rec); err != nil {
		return Order{}, err
	}
	was := ""
	if exists {
		was = orderCounter(old.Status)
	}
	if err := moveCount(tx, was, orderCounter(o.Status)); err != nil {
		return Order{}, err
	}
	if err := db.countSubTx(tx, o, old, exists); err != nil {
		return Order{}, err
	}
	return o, nil
}

// reindex points index entry to at id, dropping the entry for from when it
// still points at id (another order may have claimed it since).
func reindex(b *bolt.Bucket, id, from, to string) error {
	if from != "" && from != to && string(b.Get([]byte(from))) == id {
		if err := b.Delete([]byte(from)); err != nil {
			return err
		}
	}
	if to == "" {
		return nil
	}
	if err := checkID("index", to); err != nil {
		return err
	}
	return b.Put([]byte(to), []byte(id))
}

// OrderByPaymentIntent finds the order paid with a PaymentIntent (refunds
// and disputes name only the charge's payment intent).
func (db *DB) OrderByPaymentIntent(ctx context.Context, pi string) (Order, error) {
	return db.orderByIndex(ctx, bucketOrdersPI, "payment intent", pi)
}

// OrderBySubscription finds the order that started a subscription.
func (db *DB) OrderBySubscription(ctx context.Context, subID string) (Order, error) {
	return db.orderByIndex(ctx, bucketOrdersSub, "subscription", subID)
}

func (db *DB) orderByIndex(ctx context.Context, idx, what, key string) (Order, error) {
	var o Order
	err := db.view(ctx, func(tx *bolt.Tx) error {
		id := bucket(tx, idx).Get([]byte(key))
		if id == nil || key == "" {
			return fmt.Errorf("store: order for %s %q: %w", what, key, ErrNotFound)
		}
		var err error
		o, _, err = db.getOrderTx(tx, string(id))
		return err
	})
	return o, err
}

// AttachLicense records that l fulfils the order, in one transaction: the
// license is stored, the order gets its key and moves from pending to
// fulfilled. A crash therefore leaves either both or neither. An order
// already revoked or ended keeps that status (state only moves forward; the
// worker then revokes the new license). Attaching the same key again only
// re-saves the license; a different key is ErrConflict, because each paid order gets
// exactly one license.
func (db *DB) AttachLicense(ctx context.Context, orderID string, l License) (Order, error) {
	if err := checkLicenseKey(l.Key); err != nil {
		return Order{}, err
	}
	if l.OrderID == "" {
		l.OrderID = orderID
	}
	if l.OrderID != orderID {
		return Order{}, fmt.Errorf("store: license %s belongs to order %s, not %s: %w", mask(l.Key), l.OrderID, orderID, ErrConflict)
	}
	var out Order
	err := db.update(ctx, func(tx *bolt.Tx) error {
		o, _, err := db.getOrderTx(tx, orderID)
		if err != nil {
			return err
		}
		if o.LicenseKey != "" && o.LicenseKey != l.Key {
			return fmt.Errorf("store: order %s already has license %s, not attaching %s: %w",
				orderID, mask(o.LicenseKey), mask(l.Key), ErrConflict)
		}
		if err := db.putLicenseTx(tx, l); err != nil {
			return err
		}
		old := o
		o.LicenseKey = l.Key
		if o.Status == OrderPending || o.Status == "" {
			o.Status = OrderFulfilled
		}
		out, err = db.putOrderTx(tx, o, old, true)
		return err
	})
	if err != nil {
		return Order{}, err
	}
	return out, nil
}

// countOrdersTx reads the order counters.
func countOrdersTx(tx *bolt.Tx) (map[OrderStatus]int, int) {
	out := map[OrderStatus]int{OrderPending: 0, OrderFulfilled: 0, OrderRevoked: 0, OrderEnded: 0}
	total := 0
	for s := range out {
		n := int(getCount(tx, orderCounter(s)))
		out[s] = n
		total += n
	}
	return out, total
}

// scanOrderCountsTx counts orders by status from the records themselves,
// without decrypting anything: for the migration that builds the counters.
func scanOrderCountsTx(tx *bolt.Tx) (map[OrderStatus]int, error) {
	out := map[OrderStatus]int{}
	err := bucket(tx, bucketOrders).ForEach(func(k, v []byte) error {
		var s struct {
			Status OrderStatus `json:"status" rec:"9"`
		}
		if err := decodeRecord(v, &s); err != nil {
			return fmt.Errorf("store: decode order %s: %w", k, err)
		}
		out[s.Status]++
		return nil
	})
	return out, err
}
