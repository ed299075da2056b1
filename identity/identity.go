// Package identity defines the chat identity shared by every part of shopbot:
// a platform plus a user id, written "tg:123" or "discord:456". The same
// string is the Stripe metadata value, the AuthForge HWID and the store key,
// so a buyer is recognised the same way everywhere.
package identity

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Platform names a chat platform by the prefix used in the string form.
type Platform string

const (
	Telegram Platform = "tg"
	Discord  Platform = "discord"
)

// ErrInvalid is returned for strings that are not a well-formed identity.
var ErrInvalid = errors.New("invalid identity")

// Identity is one chat account on one platform.
type Identity struct {
	Platform Platform
	ID       string
}

// TelegramUser is the identity of a Telegram user id.
func TelegramUser(id int64) Identity {
	return Identity{Platform: Telegram, ID: strconv.FormatInt(id, 10)}
}

// DiscordUser is the identity of a Discord user snowflake.
func DiscordUser(id string) Identity {
	return Identity{Platform: Discord, ID: id}
}

// Parse reads "tg:123" or "discord:456". User ids must be positive decimal
// numbers: both platforms use them, and accepting anything else would let
// hostile metadata forge store keys.
func Parse(s string) (Identity, error) {
	p, id, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Identity{}, fmt.Errorf("%w %q: want tg:<id> or discord:<id>", ErrInvalid, s)
	}
	i := Identity{Platform: Platform(strings.ToLower(p)), ID: id}
	if err := i.Validate(); err != nil {
		return Identity{}, err
	}
	return i, nil
}

// Validate reports whether i is well formed.
func (i Identity) Validate() error {
	switch i.Platform {
	case Telegram, Discord:
	default:
		return fmt.Errorf("%w: unknown platform %q", ErrInvalid, i.Platform)
	}
	if i.ID == "" || len(i.ID) > 20 {
		return fmt.Errorf("%w: user id must be 1-20 digits", ErrInvalid)
	}
	for _, r := range i.ID {
		if r < '0' || r > '9' {
			return fmt.Errorf("%w: user id %q is not a number", ErrInvalid, i.ID)
		}
	}
	if strings.TrimLeft(i.ID, "0") == "" {
		return fmt.Errorf("%w: user id must be positive", ErrInvalid)
	}
	if i.ID[0] == '0' {
		// "tg:0042" would be a second spelling of tg:42: a license
		// owned by it would never show up for the buyer.
		return fmt.Errorf("%w: user id %q has leading zeros", ErrInvalid, i.ID)
	}
	return nil
}

// String is the canonical form, e.g. "tg:123".
func (i Identity) String() string {
	if i.IsZero() {
		return ""
	}
	return string(i.Platform) + ":" + i.ID
}

// IsZero reports whether i is the zero identity.
func (i Identity) IsZero() bool { return i.Platform == "" && i.ID == "" }

// Int64 returns the numeric user id (Telegram ids fit; Discord snowflakes too).
func (i Identity) Int64() (int64, error) {
	return strconv.ParseInt(i.ID, 10, 64)
}

// MarshalText makes identities render as their string form in JSON and TOML.
func (i Identity) MarshalText() ([]byte, error) { return []byte(i.String()), nil }

// UnmarshalText parses the string form; the empty string is the zero identity.
func (i *Identity) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*i = Identity{}
		return nil
	}
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*i = v
	return nil
}
