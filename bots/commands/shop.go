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
	// session of who for the same product.
	CheckoutLink(ctx context.Context, who identity.Identity, productID string) (url string, err error)
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
	Lookup(ctx context.Context, target Target) ([]LicenseDetails, error)
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
}

// LicenseDetails is what an admin's /lookup shows about one license.
type LicenseDetails struct {
	License
	Owner   identity.Identity
	Holders []identity.Identity
	// OrderID and OrderStatus describe the paid order, when there is one.
	OrderID     string
	OrderStatus string
	CreatedAt   time.Time
	// RemoteStatus is the license server's view ("active", "revoked");
	// RemoteUnavailable is set when it could not be asked.
	RemoteStatus      string
	RemoteUnavailable bool
}
