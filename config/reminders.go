package config

import (
	"fmt"
	"slices"
)

// defaultReminderDays apply to a product that does not set reminder_days.
func defaultReminderDays() []int { return []int{3, 1} }

// Reminders are the product's reminder days, largest first: the defaults
// when unset, none for a subscription (its renewal is Stripe's business,
// and a failed renewal is told as it happens).
func (p Product) Reminders() []int {
	if p.Mode == ModeSubscription {
		return nil
	}
	days := p.ReminderDays
	if days == nil {
		days = defaultReminderDays()
	}
	out := slices.Clone(days)
	slices.SortFunc(out, func(a, b int) int { return b - a })
	return out
}

func (c *Config) validateReminders(p *problems) {
	for i, pr := range c.Products {
		key := fmt.Sprintf("products[%d].reminder_days", i)
		seen := map[int]bool{}
		for _, d := range pr.ReminderDays {
			switch {
			case d < 1 || d > 365:
				p.add(key, "%d is out of range; use days from 1 to 365 (default [3, 1]; [] for none)", d)
			case seen[d]:
				p.add(key, "%d is listed twice", d)
			}
			seen[d] = true
		}
		if len(pr.ReminderDays) > 0 && pr.Mode == ModeSubscription {
			p.add(key, "only one-time products (mode = \"payment\") are reminded; a subscription renews itself, and a failed renewal is told as it happens")
		}
	}
}
