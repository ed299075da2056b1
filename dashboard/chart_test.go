package dashboard

import (
	"testing"
	"time"
)

func TestDailyCharts(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rows := []DaySales{
		{Day: from, Currency: "usd", Sales: 1, Amount: 2000},
		{Day: from.AddDate(0, 0, 2), Currency: "usd", Sales: 2, Amount: 4000, Refunded: 1000},
		{Day: from.AddDate(0, 0, 2), Currency: "XTR", Sales: 5, Amount: 500},
		{Day: from.AddDate(0, 0, 9), Currency: "usd", Sales: 9, Amount: 9},
	}
	rev, count := dailyCharts(rows, from, 3, "usd")
	if len(rev.Bars) != 3 || rev.Max != "30.00 USD" || rev.Title != "Net revenue per day (USD)" {
		t.Fatalf("revenue chart = %+v", rev)
	}
	// The tallest bar is the day of 30.00 net; the empty day has none; the
	// day outside the range is left out.
	if rev.Bars[2].H != chartH-chartTop || rev.Bars[1].H != 0 || rev.Bars[0].H >= rev.Bars[2].H {
		t.Errorf("revenue bars = %+v", rev.Bars)
	}
	if count.Max != "7" || count.Bars[2].Tip != "Tue Mar 3: 7" {
		t.Errorf("count chart = %+v", count)
	}
}

func TestMoney(t *testing.T) {
	for _, c := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{1234, "eur", "12.34 EUR"}, {5, "usd", "0.05 USD"}, {-250, "usd", "-2.50 USD"},
		{250, "XTR", "250 Stars"}, {1500, "jpy", "1500 JPY"},
	} {
		if got := money(c.amount, c.currency); got != c.want {
			t.Errorf("money(%d, %q) = %q, want %q", c.amount, c.currency, got, c.want)
		}
	}
}
