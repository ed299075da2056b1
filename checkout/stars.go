package checkout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// Telegram Stars (currency XTR) is the second payment rail, for Telegram
// buyers. Its payments go into the same event log as Stripe's, and the
// same worker turns them into licenses (stars_worker.go):
//
//   - /buy makes an invoice link whose payload names product, buyer and a
//     fresh order id (nothing is stored until money moves);
//   - Telegram's pre-checkout query is answered from the payload and the
//     config (PreCheckout), outside every queue;
//   - successful_payment and refunded_payment are stored as events, keyed
//     by Telegram's charge id, before the update is acknowledged (Paid,
//     Refunded); getStarTransactions recovers what was missed (CatchUp)
//     through the same ids, so each payment is handled once.

// Event types of the Stars rail.
const (
	EventStarsPaid     = "telegram.successful_payment"
	EventStarsRefunded = "telegram.refunded_payment"

	// SourceTelegram: the event came in a Telegram update;
	// SourceStarsCatchUp: from getStarTransactions.
	SourceTelegram     = "telegram"
	SourceStarsCatchUp = "stars-catchup"

	// CurrencyStars is Telegram's currency code for Stars.
	CurrencyStars = "XTR"
)

// StarsSubscriptionPeriod is the only period of Star subscriptions.
const StarsSubscriptionPeriod = config.StarsSubscriptionDays * 24 * time.Hour

// StarsPayment is a successful or refunded Stars payment, as a Telegram
// update or a star transaction tells it. It is the stored event payload.
type StarsPayment struct {
	UserID      int64  `json:"user_id"`
	Currency    string `json:"currency"`
	TotalAmount int    `json:"total_amount"`
	Payload     string `json:"invoice_payload"`
	ChargeID    string `json:"telegram_payment_charge_id"`
	// SubscriptionExpiration is when a Star subscription's paid period
	// ends (zero for one-time payments).
	SubscriptionExpiration time.Time `json:"subscription_expiration,omitzero"`
	IsRecurring            bool      `json:"is_recurring,omitempty"`
	IsFirstRecurring       bool      `json:"is_first_recurring,omitempty"`
	Date                   time.Time `json:"date,omitzero"`
}

// StarsQuery is Telegram's pre-checkout query.
type StarsQuery struct {
	UserID      int64
	Currency    string
	TotalAmount int
	Payload     string
}

// StarsInvoice is an invoice link to make.
type StarsInvoice struct {
	Title, Description, Payload string
	Stars                       int
	// SubscriptionPeriod is zero, or StarsSubscriptionPeriod.
	SubscriptionPeriod time.Duration
}

// StarTransaction is one entry of the bot's Stars history
// (getStarTransactions), reduced to what recovery needs.
type StarTransaction struct {
	ID     string
	Amount int
	Date   time.Time
	// UserID is the paying user (incoming) or the refunded one (Refund);
	// zero for transactions with anyone else (withdrawals, ads).
	UserID             int64
	Payload            string
	SubscriptionPeriod time.Duration
	Refund             bool
}

// StarsAPI is the Telegram Bot API's Stars methods (the Telegram adapter).
type StarsAPI interface {
	InvoiceLink(ctx context.Context, inv StarsInvoice) (string, error)
	RefundStarPayment(ctx context.Context, userID int64, chargeID string) error
	EditStarSubscription(ctx context.Context, userID int64, chargeID string, canceled bool) error
	StarTransactions(ctx context.Context, offset, limit int) ([]StarTransaction, error)
}

// StarsOptions configure NewStars. Store, API and Config are required.
type StarsOptions struct {
	Store  *store.DB
	API    StarsAPI
	Config *config.Config
	// Wake tells the worker a new event is stored.
	Wake   func()
	Logger *slog.Logger
	Clock  func() time.Time
}

// Stars is the Stars rail's front: invoices, pre-checkout answers,
// payments into the event log, refunds, cancellations and recovery.
type Stars struct {
	store    *store.DB
	api      StarsAPI
	cfg      *config.Config
	products map[string]config.Product
	wake     func()
	log      *slog.Logger
	now      func() time.Time
}

// NewStars checks opts and builds the rail.
func NewStars(opts StarsOptions) (*Stars, error) {
	if opts.Store == nil || opts.API == nil || opts.Config == nil {
		return nil, errors.New("checkout: StarsOptions needs Store, API and Config")
	}
	products, err := productMap(opts.Config.Products)
	if err != nil {
		return nil, err
	}
	s := &Stars{store: opts.Store, api: opts.API, cfg: opts.Config, products: products,
		wake: opts.Wake, log: opts.Logger, now: opts.Clock}
	if s.wake == nil {
		s.wake = func() {}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// ErrNoStars: the product is not sold for Stars (no stars_price, or
// telegram.payments is "stripe").
var ErrNoStars = errors.New("checkout: product not sold for Telegram Stars")

// payloadVersion starts every invoice payload shopbot makes.
const payloadVersion = "sb1"

// starsPayload is what an invoice's payload names.
type starsPayload struct {
	Product string
	UserID  int64
	Nonce   string
}

func (p starsPayload) String() string {
	return payloadVersion + "|" + p.Product + "|" + strconv.FormatInt(p.UserID, 10) + "|" + p.Nonce
}

// OrderID is the order an invoice pays for.
func (p starsPayload) OrderID() string { return "stars_" + p.Nonce }

// parseStarsPayload reads a payload shopbot made; anything else is not
// ours (another bot's invoice on the same account, or forged).
func parseStarsPayload(s string) (starsPayload, error) {
	parts := strings.Split(s, "|")
	if len(parts) != 4 || parts[0] != payloadVersion {
		return starsPayload{}, fmt.Errorf("invoice payload %q is not shopbot's", clipText(s, 64))
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || id <= 0 {
		return starsPayload{}, fmt.Errorf("invoice payload %q names no Telegram user", clipText(s, 64))
	}
	if len(parts[3]) != 16 {
		return starsPayload{}, fmt.Errorf("invoice payload %q has no order id", clipText(s, 64))
	}
	if _, err := hex.DecodeString(parts[3]); err != nil {
		return starsPayload{}, fmt.Errorf("invoice payload %q has no order id", clipText(s, 64))
	}
	return starsPayload{Product: parts[1], UserID: id, Nonce: parts[3]}, nil
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Offers reports whether who can pay for product with Stars.
func (s *Stars) Offers(who identity.Identity, productID string) bool {
	p, ok := s.products[productID]
	return ok && who.Platform == identity.Telegram && s.cfg.OffersStars(p)
}

// InvoiceLink makes a Stars invoice link for who to buy productID: a
// one-time payment, or a 30-day Star subscription for a subscription
// product.
func (s *Stars) InvoiceLink(ctx context.Context, who identity.Identity, productID string) (string, error) {
	p, ok := s.products[productID]
	if !ok || !s.Offers(who, productID) {
		return "", fmt.Errorf("%w: %s", ErrNoStars, productID)
	}
	uid, err := strconv.ParseInt(who.ID, 10, 64)
	if err != nil {
		return "", fmt.Errorf("checkout: telegram user id %q: %w", who.ID, err)
	}
	nonce := make([]byte, 8)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("checkout: order id: %w", err)
	}
	// The adapter clips title and description to Telegram's limits and
	// uses the title when there is no description.
	inv := StarsInvoice{
		Title:       orString(p.Name, p.ID),
		Description: p.Description,
		Payload:     starsPayload{Product: p.ID, UserID: uid, Nonce: hex.EncodeToString(nonce)}.String(),
		Stars:       p.StarsPrice,
	}
	if p.Mode == config.ModeSubscription {
		inv.SubscriptionPeriod = StarsSubscriptionPeriod
	}
	link, err := s.api.InvoiceLink(ctx, inv)
	if err != nil {
		return "", fmt.Errorf("checkout: stars invoice for %s: %w", p.ID, err)
	}
	return link, nil
}

// PreCheckout decides Telegram's pre-checkout query: nil accepts it, else
// the notice says why not (shown to the buyer by Telegram). It reads one
// order record at most, so it answers well inside Telegram's 10 seconds.
func (s *Stars) PreCheckout(ctx context.Context, q StarsQuery) *notify.Notice {
	refuse := func(key, text string, args ...any) *notify.Notice {
		n := notify.Say(key, text, args...)
		s.log.Info("stars pre-checkout refused", "user", q.UserID, "reason", key)
		return &n
	}
	pl, err := parseStarsPayload(q.Payload)
	if err != nil {
		return refuse("stars.refused_unknown", textStarsUnknown)
	}
	p, ok := s.products[pl.Product]
	switch {
	case !ok || !s.cfg.OffersStars(p):
		return refuse("stars.refused_product", textStarsProductGone, "id", pl.Product)
	case pl.UserID != q.UserID:
		return refuse("stars.refused_buyer", textStarsOtherBuyer, "product", p.Name)
	case q.Currency != CurrencyStars || q.TotalAmount != p.StarsPrice:
		return refuse("stars.refused_price", textStarsPriceChanged, "product", p.Name, "id", p.ID)
	}
	_, err = s.store.GetOrder(ctx, pl.OrderID())
	switch {
	case errors.Is(err, store.ErrNotFound):
		// A payment already stored but not yet handled by the worker
		// (a second tap on Pay) has no order yet, but a pending event.
		paid, err := s.store.EarlierPending(ctx, pl.OrderID(), math.MaxUint64)
		if err != nil {
			s.log.Error("stars pre-checkout: reading pending payments", "order", pl.OrderID(), "err", err)
			return refuse("stars.refused_busy", textStarsBusy)
		}
		if paid {
			return refuse("stars.refused_paid", textStarsAlreadyPaid, "product", p.Name, "id", p.ID)
		}
		return nil
	case err != nil:
		// Better a retry by the buyer than a payment shopbot may not
		// be able to record.
		s.log.Error("stars pre-checkout: reading the order", "order", pl.OrderID(), "err", err)
		return refuse("stars.refused_busy", textStarsBusy)
	default:
		// A Stars order exists only once a payment for it was handled
		// (pending while its license is being made).
		return refuse("stars.refused_paid", textStarsAlreadyPaid, "product", p.Name, "id", p.ID)
	}
}

// Paid stores a successful payment in the event log; when it returns nil
// the payment is durable and the worker will handle it once.
func (s *Stars) Paid(ctx context.Context, p StarsPayment) error {
	return s.store1(ctx, p, EventStarsPaid, SourceTelegram)
}

// Refunded stores a refunded payment in the event log.
func (s *Stars) Refunded(ctx context.Context, p StarsPayment) error {
	return s.store1(ctx, p, EventStarsRefunded, SourceTelegram)
}

// starsEventID is the event id of a payment or of its refund: Telegram's
// charge id, which getStarTransactions also gives (the transaction id
// "coincides with" it), so every path to one payment meets at one id.
func starsEventID(typ, chargeID string) string {
	if typ == EventStarsRefunded {
		return "tgrefund:" + chargeID
	}
	return "tgpay:" + chargeID
}

func (s *Stars) store1(ctx context.Context, p StarsPayment, typ, source string) error {
	if p.ChargeID == "" {
		return fmt.Errorf("checkout: stars payment without telegram_payment_charge_id (user %d)", p.UserID)
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("checkout: encode stars payment: %w", err)
	}
	ev := store.Event{
		ID: starsEventID(typ, p.ChargeID), Type: typ, Created: p.Date, Payload: body,
		State: store.EventPending, Source: source, Urgent: typ == EventStarsPaid,
	}
	if ev.Created.IsZero() {
		ev.Created = s.now().UTC()
	}
	if pl, err := parseStarsPayload(p.Payload); err == nil {
		ev.OrderKey = pl.OrderID()
	}
	inserted, err := s.store.PutEvent(ctx, ev)
	if err != nil {
		return fmt.Errorf("checkout: store stars payment %s: %w", ev.ID, err)
	}
	if inserted {
		s.log.Info("stars payment stored", "event", ev.ID, "type", typ, "order_key", ev.OrderKey, "source", source)
		s.wake()
	}
	return nil
}
