package dashboard

import (
	"fmt"
	"strings"
	"time"
)

// Chart geometry, in SVG user units; the SVG scales to the page width.
const (
	chartW   = 600.0
	chartH   = 160.0
	chartTop = 14.0
)

// chart is a bar chart drawn on the server: the template writes the
// numbers below into an <svg>, so it needs no script and escapes like
// any other page text.
type chart struct {
	Title      string
	W, H       float64
	Bars       []bar
	Max        string
	First      string
	Last       string
	Empty      bool
	BaselineY  float64
	LabelRight float64
}

type bar struct {
	X, Y, W, H float64
	// Tip is the bar's tooltip: the day and its figure.
	Tip string
}

// dailyCharts draws the net revenue of one currency, and the number of
// sales and renewals of all, for each of days days from from.
func dailyCharts(rows []DaySales, from time.Time, days int, currency string) (revenue, count chart) {
	amounts := make([]int64, days)
	counts := make([]int64, days)
	for _, r := range rows {
		i := int(r.Day.UTC().Sub(from) / (24 * time.Hour))
		if i < 0 || i >= days {
			continue
		}
		counts[i] += r.Sales + r.Renewals
		if r.Currency == currency {
			amounts[i] += r.Amount - r.Refunded
		}
	}
	title := "Net revenue per day"
	switch unit := strings.ToUpper(currency); unit {
	case "":
	case "XTR":
		title += " (Stars)"
	default:
		title += " (" + unit + ")"
	}
	revenue = barChart(title, from, amounts, func(v int64) string { return money(v, currency) })
	count = barChart("Sales and renewals per day", from, counts, func(v int64) string { return fmt.Sprint(v) })
	return revenue, count
}

func barChart(title string, from time.Time, values []int64, label func(int64) string) chart {
	c := chart{Title: title, W: chartW, H: chartH, BaselineY: chartH, LabelRight: chartW}
	var top int64
	for _, v := range values {
		top = max(top, v)
	}
	c.Empty = top == 0
	c.Max = label(top)
	c.First = from.Format("Jan 2")
	c.Last = from.AddDate(0, 0, len(values)-1).Format("Jan 2")
	slot := chartW / float64(len(values))
	for i, v := range values {
		h := 0.0
		if top > 0 && v > 0 {
			h = max(1, (chartH-chartTop)*float64(v)/float64(top))
		}
		c.Bars = append(c.Bars, bar{
			X: float64(i)*slot + slot*0.1, W: slot * 0.8, Y: chartH - h, H: h,
			Tip: from.AddDate(0, 0, i).Format("Mon Jan 2") + ": " + label(v),
		})
	}
	return c
}
