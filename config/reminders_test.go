package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestReminderDays(t *testing.T) {
	p := Product{Mode: ModePayment}
	if got := fmt.Sprint(p.Reminders()); got != "[3 1]" {
		t.Errorf("unset: %s, want the default [3 1]", got)
	}
	p.ReminderDays = []int{}
	if got := p.Reminders(); len(got) != 0 {
		t.Errorf("empty list: %v, want none", got)
	}
	p.ReminderDays = []int{1, 7, 3}
	if got := fmt.Sprint(p.Reminders()); got != "[7 3 1]" {
		t.Errorf("set: %s, want largest first", got)
	}
	if got := (Product{Mode: ModeSubscription}).Reminders(); len(got) != 0 {
		t.Errorf("subscription: %v, want none", got)
	}
	for _, tc := range []struct {
		days []int
		mode string
		want string
	}{
		{[]int{0}, ModePayment, "out of range"},
		{[]int{400}, ModePayment, "out of range"},
		{[]int{3, 3}, ModePayment, "listed twice"},
		{[]int{3}, ModeSubscription, "only one-time products"},
	} {
		c := Config{Products: []Product{{Mode: tc.mode, ReminderDays: tc.days}}}
		var p problems
		c.validateReminders(&p)
		if len(p) != 1 || !strings.Contains(p[0].Error(), "products[0].reminder_days") || !strings.Contains(p[0].Error(), tc.want) {
			t.Errorf("%v %s: %v, want %q", tc.days, tc.mode, p, tc.want)
		}
	}
}
