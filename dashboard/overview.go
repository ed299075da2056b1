package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/store"
)

// Ledger reads the payments ledger the store keeps with every sale,
// renewal and refund (cmd/shopbot adapts *store.DB to it).
type Ledger interface {
	SalesByDay(ctx context.Context, from, to time.Time) ([]DaySales, error)
	ActiveSubscriptions(ctx context.Context) (int, error)
}

// DaySales is one day's payments of one product on one rail in one
// currency. Amount and Refunded are minor units (Stars for XTR).
type DaySales struct {
	Day                             time.Time
	ProductID, Rail, Currency       string
	Sales, Renewals, Refunds, Ended int64
	Amount, Refunded                int64
}

// sums adds up rows of the ledger.
type sums struct {
	Sales, Renewals, Refunds, Ended int64
	Amount, Refunded                int64
}

func (s *sums) add(r DaySales) {
	s.Sales += r.Sales
	s.Renewals += r.Renewals
	s.Refunds += r.Refunds
	s.Ended += r.Ended
	s.Amount += r.Amount
	s.Refunded += r.Refunded
}

// row is one line of a breakdown table.
type row struct {
	Name, Currency string
	sums
	Net string
}

type overviewData struct {
	Days      int
	From, To  time.Time
	Stats     commands.Stats
	HasLedger bool
	Totals    []row
	ByProduct []row
	ByRail    []row
	Revenue   chart
	Count     chart
	Subs      int
	Ended     int64
	Churn     string
}

// overview is the front page: the shop's figures over the last 30 or 90
// days.
func (d *Dashboard) overview(w http.ResponseWriter, r *http.Request, s view) {
	days := 30
	if r.URL.Query().Get("days") == "90" {
		days = 90
	}
	ctx := r.Context()
	st, err := d.ops.Stats(ctx)
	if err != nil {
		d.fail(w, s, "the shop's figures", err)
		return
	}
	data := overviewData{Days: days, Stats: st}
	if d.ledger != nil {
		if err := d.fillLedger(ctx, &data); err != nil {
			d.fail(w, s, "the payments ledger", err)
			return
		}
	}
	d.render(w, http.StatusOK, "overview", s, data)
}

func (d *Dashboard) fillLedger(ctx context.Context, data *overviewData) error {
	data.HasLedger = true
	today := d.now().UTC().Truncate(24 * time.Hour)
	data.From, data.To = today.AddDate(0, 0, -(data.Days-1)), today
	rows, err := d.ledger.SalesByDay(ctx, data.From, data.To.Add(24*time.Hour-time.Nanosecond))
	if err != nil {
		return err
	}
	if data.Subs, err = d.ledger.ActiveSubscriptions(ctx); err != nil {
		return err
	}
	totals := map[string]*row{}
	byProduct := map[string]*row{}
	byRail := map[string]*row{}
	for _, r := range rows {
		bump(totals, strings.ToUpper(r.Currency), r.Currency, r)
		bump(byProduct, d.productName(r.ProductID), r.Currency, r)
		bump(byRail, railName(r.Rail), r.Currency, r)
		data.Ended += r.Ended
	}
	data.Totals, data.ByProduct, data.ByRail = sorted(totals), sorted(byProduct), sorted(byRail)
	// The chart shows the currency that earned the most; the others are
	// in the tables.
	main := ""
	if len(data.Totals) > 0 {
		best := slices.MaxFunc(data.Totals, func(a, b row) int { return cmp.Compare(a.Amount-a.Refunded, b.Amount-b.Refunded) })
		main = best.Currency
	}
	data.Revenue, data.Count = dailyCharts(rows, data.From, data.Days, main)
	if denom := int64(data.Subs) + data.Ended; denom > 0 {
		data.Churn = fmt.Sprintf("%.1f%%", 100*float64(data.Ended)/float64(denom))
	}
	return nil
}

func bump(m map[string]*row, name, currency string, r DaySales) {
	k := name + "\x00" + currency
	if m[k] == nil {
		m[k] = &row{Name: name, Currency: currency}
	}
	m[k].add(r)
}

func sorted(m map[string]*row) []row {
	out := make([]row, 0, len(m))
	for _, r := range m {
		r.Net = money(r.Amount-r.Refunded, r.Currency)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b row) int {
		if c := cmp.Compare(b.Amount-b.Refunded, a.Amount-a.Refunded); c != 0 {
			return c
		}
		if a.Name != b.Name {
			return cmp.Compare(a.Name, b.Name)
		}
		return cmp.Compare(a.Currency, b.Currency)
	})
	return out
}

// railName is how the seller knows a payment rail.
func railName(rail string) string {
	switch rail {
	case store.RailStripe:
		return "Stripe"
	case store.RailStars:
		return "Telegram Stars"
	}
	return rail
}

func (d *Dashboard) productName(id string) string {
	for _, p := range d.products {
		if p.ID == id {
			if p.Name != "" {
				return p.Name
			}
			break
		}
	}
	return id
}
