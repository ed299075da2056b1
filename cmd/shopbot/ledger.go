package main

import (
	"context"
	"time"

	"github.com/shopbot/shopbot/dashboard"
	"github.com/shopbot/shopbot/store"
)

// storeLedger shows the store's payments ledger to the dashboard.
type storeLedger struct{ db *store.DB }

func ledger(db *store.DB) dashboard.Ledger { return storeLedger{db} }

func (l storeLedger) SalesByDay(ctx context.Context, from, to time.Time) ([]dashboard.DaySales, error) {
	rows, err := l.db.SalesByDay(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]dashboard.DaySales, len(rows))
	for i, r := range rows {
		out[i] = dashboard.DaySales{
			Day: r.Day, ProductID: r.ProductID, Rail: r.Rail, Currency: r.Currency,
			Sales: r.Sales, Renewals: r.Renewals, Refunds: r.Refunds, Ended: r.Ended,
			Amount: r.Amount, Refunded: r.Refunded,
		}
	}
	return out, nil
}

func (l storeLedger) ActiveSubscriptions(ctx context.Context) (int, error) {
	st, err := l.db.Stats(ctx)
	return st.ActiveSubscriptions, err
}
