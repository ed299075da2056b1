package commands

import (
	"context"
	"time"

	"github.com/shopbot/shopbot/identity"
)

// Shop is everything the chat commands need from the shop's core. It is
// declared here, by its user, so this package compiles and tests without
// the core; cmd/shopbot adapts checkout and licensing to it.
//
// Errors are returned as the core produces them; Options.Classify turns
// them into a Problem for the message table.
type Shop interface {
	// CheckoutLink returns the payment page for productID, reusing an open
	// session of who for the same product. A non-empty code is a promotion
	// code the buyer typed: the page carries its discount, or the error is
	// classified KindPromotionCode when the code cannot be used.
	CheckoutLink(ctx context.Context, who identity.Identity, productID, code string) (url string, err error)
	// Activate binds key (raw user input; the core normalises and checks
	// its shape) to who.
	Activate(ctx context.Context, who identity.Identity, key string) (Activation, error)
	// Licenses lists the licenses who owns or has activated.
	Licenses(ctx context.Context, who identity.Identity) ([]License, error)
	// Check reports nil when who may use any of productIDs now; an error
	// classified KindNotEntitled when not.
	Check(ctx context.Context, who identity.Identity, productIDs ...string) error
	// Revoke revokes the key, or every license of the identity, on behalf
	// of actor, and returns what it revoked.
	Revoke(ctx context.Context, actor identity.Identity, target Target) ([]License, error)
	// Lookup describes the key, or every license of the identity.
	Lookup(ctx context.Context, actor identity.Identity, target Target) ([]LicenseDetails, error)
}

// Target is the argument of an admin command: exactly one of Key (upper
// case, trimmed; shape not checked) or Who is set.
type Target struct {
	Key string
	Who identity.Identity
}

// String is safe to log: keys are masked.
func (t Target) String() string {
	if t.Key != "" {
		return maskKey(t.Key)
	}
	return t.Who.String()
}

// Activation is the result of a successful Activate.
type Activation struct {
	ProductID   string
	ProductName string // empty: taken from the configured product
	// ExpiresAt is the license's end; zero is a lifetime license.
	ExpiresAt time.Time
	SlotsUsed int
	MaxSlots  int
	// Renewed is true when who had already activated the key.
	Renewed bool
}

// Status is a license's state as the buyer sees it.
type Status string

const (
	StatusActive  Status = "active"
	StatusExpired Status = "expired"
	StatusRevoked Status = "revoked"
)

// License is one license as shown to its holder or an admin.
type License struct {
	// Key is the full key; it is shown whole only to its holder in a
	// private reply and masked everywhere else.
	Key         string
	ProductID   string
	ProductName string // empty: taken from the configured product
	Status      Status
	// ExpiresAt is the license's end; zero is a lifetime license.
	ExpiresAt time.Time
	SlotsUsed int
	MaxSlots  int
	// Activated is true when the asking identity holds a slot of the key.
	Activated bool
	// Billing is true when the asking identity pays for the license by
	// subscription: /license offers a button to manage it
	// (Account.BillingLink).
	Billing bool
	// StarsSubscription is true when the asking identity pays for the
	// license by a Star subscription: /license offers to cancel it, unless
	// Canceled (it then ends with its paid period).
	StarsSubscription bool
	Canceled          bool
}

// LicenseDetails is what an admin's /lookup shows about one license.
type LicenseDetails struct {
	License
	Owner   identity.Identity
	Holders []identity.Identity
	// OrderID and OrderStatus describe the paid order, when there is one.
	OrderID     string
	OrderStatus string
	// Rail is how the order was paid ("stripe", "stars"), Paid what it
	// cost ("250 Stars"), when known.
	Rail      string
	Paid      string
	CreatedAt time.Time
	// RemoteStatus is the license server's view ("active", "revoked");
	// RemoteUnavailable is set when it could not be asked.
	RemoteStatus      string
	RemoteUnavailable bool
}

// Admin is what the admin commands beyond /revoke and /lookup need. It is
// a second interface, not more methods on Shop, so the buyer-facing core
// stays small and set-up tools (which only publish menus) need not fake
// it. Options.Admin sets it; when nil and Shop implements Admin, Shop is
// used. Every method that changes something takes the acting admin for
// the audit log.
type Admin interface {
	// Grant issues a license of productID to who without payment and
	// delivers it to them.
	Grant(ctx context.Context, actor, who identity.Identity, productID string) (License, error)
	// Extend moves the license's end by `by` (from now if it has passed).
	Extend(ctx context.Context, actor identity.Identity, key string, by time.Duration) (License, error)
	// ResetHWID frees every slot of the key; former holders lose access.
	ResetHWID(ctx context.Context, actor identity.Identity, key string) (License, error)
	// Stats counts sales, licenses, activations, events and credits.
	Stats(ctx context.Context) (Stats, error)
	// Audit lists the last n audit entries, newest first.
	Audit(ctx context.Context, n int) ([]AuditEntry, error)
	// FailedEvents lists up to n payment events that could not be
	// fulfilled, newest first.
	FailedEvents(ctx context.Context, n int) ([]Event, error)
	// Replay handles the stored event again and returns it as saved
	// afterwards (also with an error, when it is known).
	Replay(ctx context.Context, actor identity.Identity, eventID string) (Event, error)
	// SyncAll re-grants and removes roles and chat access for everyone
	// and returns how many accounts it checked; the error joins the
	// accounts that could not be synced.
	SyncAll(ctx context.Context, actor identity.Identity) (int, error)
}

// Account is the self-service of license holders: moving a key to another
// account and managing a subscription's billing. Options.Account sets it;
// when nil and Shop implements Account, Shop is used.
type Account interface {
	// Transfer frees every slot of key, which who owns or holds, so it can
	// be activated on another account; it returns how many more moves the
	// limit allows now.
	Transfer(ctx context.Context, who identity.Identity, key string) (remaining int, err error)
	// BillingLink returns a short-lived page where who manages the
	// subscription that pays for key (License.Billing).
	BillingLink(ctx context.Context, who identity.Identity, key string) (url string, err error)
}

// Stats are the figures of /stats.
type Stats struct {
	// Orders counts paid and pending orders; OrdersByStatus splits them
	// ("fulfilled", "pending", "revoked", "ended").
	Orders          int
	OrdersByStatus  map[string]int
	ActiveLicenses  int
	RevokedLicenses int
	// Activations counts account-key bindings, Holders distinct accounts.
	Activations int
	Holders     int
	// EventsPending and EventsFailed count stored payment events.
	EventsPending int
	EventsFailed  int
	// Validations and Heartbeats count license-server calls that cost
	// credits; CreditsEstimate is what they cost.
	Validations     int64
	Heartbeats      int64
	CreditsEstimate float64
	// Chat is each platform's crowd protection since start.
	Chat []ChatLoad
	// AccessRemovals counts members-only access taken from people who
	// held it without a license (chat members, hand-given roles).
	AccessRemovals int64
	// Revenue is the money taken per rail and currency, from the ledger.
	Revenue []Revenue
	// ActiveSubscriptions counts subscriptions paid and not ended.
	ActiveSubscriptions int
}

// Revenue is one rail's takings in one currency, amounts formatted.
type Revenue struct {
	Rail     string
	Amount   string
	Refunded string
	Payments int64
}

// ChatLoad is what one platform's crowd protection did since start.
type ChatLoad struct {
	Platform string
	// CommandsDropped: over a budget or an in-flight cap.
	CommandsDropped uint64
	// RepliesDropped: pushed out of a full reply queue.
	RepliesDropped uint64
	// Queued: messages waiting to go out now.
	Queued int
	// RateLimited: 429 answers from the platform.
	RateLimited uint64
}

// AuditEntry is one recorded admin action. Target carries masked keys only.
type AuditEntry struct {
	Time   time.Time
	Actor  string
	Action string
	Target string
	Detail string
}

// Event is a stored payment-provider event as /failed and /replay show it.
type Event struct {
	ID   string
	Type string
	// State is "pending", "done", "failed" or "ignored".
	State     string
	Attempts  int
	LastError string
	// ReceivedAt is when it arrived; NextAttemptAt, for a pending event,
	// when it is retried.
	ReceivedAt    time.Time
	NextAttemptAt time.Time
}
