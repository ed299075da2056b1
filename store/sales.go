package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The payments ledger answers "how did sales go" without reading orders:
// bucket sales_daily holds one small record per day, product, rail and
// currency, and the counters bucket the totals per rail and currency. Both
// are written in the transaction that records the payment, and each
// payment id is remembered (bucket payments) so a retried event never
// counts twice. Subscription ends are counted by putOrderTx, in the
// transaction that ends the order.

// PaymentKind says what a ledger entry is.
type PaymentKind string

const (
	PaymentSale    PaymentKind = "sale"
	PaymentRenewal PaymentKind = "renewal"
	PaymentRefund  PaymentKind = "refund"
)

// Payment is one movement of money.
type Payment struct {
	// ID is the rail's own id of the payment (a Checkout session, an
	// invoice, a Stars charge; for a refund, the refund or the refunded
	// charge): a second Payment with the same Rail and ID is not counted.
	ID        string
	Kind      PaymentKind
	At        time.Time
	ProductID string
	Rail      string
	// Currency is lower case for Stripe ("eur") and "XTR" for Stars;
	// Amount is in its minor unit (whole Stars for XTR), positive also for
	// refunds.
	Currency string
	Amount   int64
}

// DaySales is one day's ledger for a product, rail and currency.
type DaySales struct {
	Day       time.Time // midnight UTC
	ProductID string
	Rail      string
	Currency  string
	Sales     int64
	Renewals  int64
	Refunds   int64
	// Ended counts subscriptions that ended that day (churn).
	Ended int64
	// Amount is what sales and renewals brought, Refunded what went back.
	Amount   int64
	Refunded int64
}

// Revenue is the all-time total of one rail and currency.
type Revenue struct {
	Rail     string
	Currency string
	Amount   int64
	Refunded int64
	Payments int64
}

const dayLayout = "20060102"

// RecordPayment adds p to the ledger once per rail and id: it reports
// false when that payment was recorded before.
func (db *DB) RecordPayment(ctx context.Context, p Payment) (bool, error) {
	switch {
	case p.ID == "" || p.Rail == "" || p.Currency == "" || p.ProductID == "":
		return false, errors.New("store: payment needs an id, rail, currency and product")
	case p.Amount < 0:
		return false, fmt.Errorf("store: payment %s: negative amount", p.ID)
	case p.Kind != PaymentSale && p.Kind != PaymentRenewal && p.Kind != PaymentRefund:
		return false, fmt.Errorf("store: payment %s: unknown kind %q", p.ID, p.Kind)
	}
	if err := checkID("payment", p.ID); err != nil {
		return false, err
	}
	if p.At.IsZero() {
		p.At = db.now()
	}
	mark := []byte(p.Rail + "\x00" + string(p.Kind) + "\x00" + p.ID)
	// A retried or redelivered event records its payment again: a read
	// answers that without a commit of its own.
	var known bool
	if err := db.view(ctx, func(tx *bolt.Tx) error {
		known = bucket(tx, bucketPayments).Get(mark) != nil
		return nil
	}); err != nil || known {
		return false, err
	}
	recorded := false
	err := db.update(ctx, func(tx *bolt.Tx) error {
		seen := bucket(tx, bucketPayments)
		if seen.Get(mark) != nil {
			return nil
		}
		if err := seen.Put(mark, []byte(p.At.UTC().Format(dayLayout))); err != nil {
			return err
		}
		recorded = true
		return addDaySales(tx, p.At, p.ProductID, p.Rail, p.Currency, func(d *DaySales) {
			switch p.Kind {
			case PaymentSale:
				d.Sales++
				d.Amount += p.Amount
			case PaymentRenewal:
				d.Renewals++
				d.Amount += p.Amount
			case PaymentRefund:
				d.Refunds++
				d.Refunded += p.Amount
			}
		}, p)
	})
	return recorded, err
}

// addDaySales changes one day's record and, for a payment, the rail's
// totals.
func addDaySales(tx *bolt.Tx, at time.Time, product, rail, currency string, fn func(*DaySales), p Payment) error {
	key := daySalesKey(at, product, rail, currency)
	b := bucket(tx, bucketSalesDaily)
	var d DaySales
	if raw := b.Get(key); raw != nil {
		if err := decodeDaySales(raw, &d); err != nil {
			return fmt.Errorf("store: sales of %s: %w", key, err)
		}
	}
	fn(&d)
	if err := b.Put(key, encodeDaySales(d)); err != nil {
		return err
	}
	if p.ID == "" {
		return nil
	}
	total := revenuePrefix + rail + ":" + currency
	if p.Kind == PaymentRefund {
		return addCount(tx, refundedPrefix+rail+":"+currency, p.Amount)
	}
	if err := addCount(tx, total, p.Amount); err != nil {
		return err
	}
	return addCount(tx, paymentsPrefix+rail+":"+currency, 1)
}

// Counter names of the totals per rail and currency.
const (
	revenuePrefix  = "revenue:"
	refundedPrefix = "refunded:"
	paymentsPrefix = "payments:"
	// activeSubsCounter counts subscription orders that are fulfilled and
	// not ended.
	activeSubsCounter = "subscriptions:active"
)

func daySalesKey(at time.Time, product, rail, currency string) []byte {
	return []byte(at.UTC().Format(dayLayout) + "\x00" + product + "\x00" + rail + "\x00" + currency)
}

func encodeDaySales(d DaySales) []byte {
	out := make([]byte, 0, 24)
	for _, v := range []int64{d.Sales, d.Renewals, d.Refunds, d.Ended, d.Amount, d.Refunded} {
		out = binary.AppendVarint(out, v)
	}
	return out
}

func decodeDaySales(raw []byte, d *DaySales) error {
	for _, p := range []*int64{&d.Sales, &d.Renewals, &d.Refunds, &d.Ended, &d.Amount, &d.Refunded} {
		v, n := binary.Varint(raw)
		if n <= 0 {
			return errors.New("cut short")
		}
		*p, raw = v, raw[n:]
	}
	return nil
}

// SalesByDay reads the ledger from the day of from to the day of to, both
// included, in day order: one record per day, product, rail and currency
// that saw anything. It reads only those days' keys.
func (db *DB) SalesByDay(ctx context.Context, from, to time.Time) ([]DaySales, error) {
	var out []DaySales
	first := []byte(from.UTC().Format(dayLayout))
	last := []byte(to.UTC().Format(dayLayout) + "\x01")
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := bucket(tx, bucketSalesDaily).Cursor()
		for k, v := c.Seek(first); k != nil && bytes.Compare(k, last) < 0; k, v = c.Next() {
			parts := strings.Split(string(k), "\x00")
			if len(parts) != 4 {
				return fmt.Errorf("store: sales key %q: %w", k, ErrCorrupt)
			}
			day, err := time.Parse(dayLayout, parts[0])
			if err != nil {
				return fmt.Errorf("store: sales key %q: %w", k, ErrCorrupt)
			}
			d := DaySales{Day: day, ProductID: parts[1], Rail: parts[2], Currency: parts[3]}
			if err := decodeDaySales(v, &d); err != nil {
				return fmt.Errorf("store: sales of %q: %w: %w", k, ErrCorrupt, err)
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// revenueTx reads the totals per rail and currency.
func revenueTx(tx *bolt.Tx) []Revenue {
	byKey := map[string]*Revenue{}
	c := bucket(tx, bucketCounters).Cursor()
	for _, prefix := range []string{revenuePrefix, refundedPrefix, paymentsPrefix} {
		for k, v := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
			rest := string(k[len(prefix):])
			rail, currency, ok := strings.Cut(rest, ":")
			if !ok || len(v) != 8 {
				continue
			}
			r := byKey[rest]
			if r == nil {
				r = &Revenue{Rail: rail, Currency: currency}
				byKey[rest] = r
			}
			n := int64(binary.BigEndian.Uint64(v))
			switch prefix {
			case revenuePrefix:
				r.Amount = n
			case refundedPrefix:
				r.Refunded = n
			default:
				r.Payments = n
			}
		}
	}
	out := make([]Revenue, 0, len(byKey))
	for _, r := range byKey {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rail != out[j].Rail {
			return out[i].Rail < out[j].Rail
		}
		return out[i].Currency < out[j].Currency
	})
	return out
}

// activeSub reports whether o counts as an active subscription.
func activeSub(o Order) bool {
	return o.Mode == "subscription" && o.Status == OrderFulfilled && !o.Ended
}

// countSubTx keeps the active-subscription counter and the ledger's
// churn in step with an order write.
func (db *DB) countSubTx(tx *bolt.Tx, o, old Order, exists bool) error {
	was := exists && activeSub(old)
	if now := activeSub(o); now != was {
		delta := int64(1)
		if was {
			delta = -1
		}
		if err := addCount(tx, activeSubsCounter, delta); err != nil {
			return err
		}
	}
	if o.Mode != "subscription" || !o.Ended || (exists && old.Ended) || o.LicenseKey == "" {
		return nil
	}
	return addDaySales(tx, db.now(), o.ProductID, o.OrderRail(), orderCurrency(o), func(d *DaySales) { d.Ended++ }, Payment{})
}

// orderCurrency is the currency a subscription's churn is filed under.
func orderCurrency(o Order) string {
	if o.Currency != "" {
		return o.Currency
	}
	return "unknown"
}

// migrateSubsV6 counts the active subscriptions once, so the counter kept
// from now on starts right.
func migrateSubsV6(tx *bolt.Tx) (int, error) {
	n := 0
	err := bucket(tx, bucketOrders).ForEach(func(k, v []byte) error {
		var s struct {
			Mode   string      `json:"mode,omitempty" rec:"2"`
			Status OrderStatus `json:"status" rec:"9"`
			Ended  bool        `json:"ended,omitempty" rec:"13"`
		}
		if err := decodeRecord(v, &s); err != nil {
			return fmt.Errorf("store: decode order %s: %w", k, err)
		}
		if activeSub(Order{Mode: s.Mode, Status: s.Status, Ended: s.Ended}) {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, setCount(tx, activeSubsCounter, int64(n))
}
