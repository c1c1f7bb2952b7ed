package checkout

import (
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
)

// Total is a count and a sum of money.
type Total struct {
	Count  int            `json:"count"`
	Amount gateway.Amount `json:"amount"`
}

// Count is a count of checkouts.
type Count struct {
	Count int `json:"count"`
}

// OperatorTakings is one cashier's share of a day.
type OperatorTakings struct {
	// OperatorID is the checkouts' operator_id; "" for checkouts created
	// without one.
	OperatorID string `json:"operator_id"`
	Paid       Total  `json:"paid"`
	Refunds    Total  `json:"refunds"`
}

// DailyReport is a store day's takings (SPEC §12).
type DailyReport struct {
	// Date is the store day, "2006-01-02" in Options.Location.
	Date       string `json:"date"`
	StoreID    string `json:"store_id"`
	TerminalID string `json:"terminal_id"`
	// Paid counts the checkouts that became paid that day and sums their
	// paid_amount (what was charged, after discounts).
	Paid Total `json:"paid"`
	// Discounts sums the discounts of those checkouts.
	Discounts gateway.Amount `json:"discounts"`
	// Refunds are the refunds that reached refunded that day (see
	// dayRefunds; zero until refunds feed it).
	Refunds Total `json:"refunds"`
	// Net is Paid.Amount − Refunds.Amount.
	Net gateway.Amount `json:"net"`
	// Cancelled and NeedsAttention count the checkouts that ended in
	// those states that day.
	Cancelled      Count `json:"cancelled"`
	NeedsAttention Count `json:"needs_attention"`
	// ByOperator splits Paid and Refunds by operator_id, sorted by it;
	// never null.
	ByOperator []OperatorTakings `json:"by_operator"`
}

// DayRefund is one refund that reached refunded on a day, as the report
// and the reconciliation need it.
type DayRefund struct {
	RefundID     string
	CheckoutID   string
	OperatorID   string
	OutTradeNo   string
	OutRequestNo string
	// Amount is the refund, positive.
	Amount gateway.Amount
}

// dayRefunds, when set, returns the refunds that reached refunded on the
// store day day, read in tx. The refunds code sets it (in an init func)
// once refunds exist; until then a day has no refunds. It must read an
// index of its own (e.g. "YYYY-MM-DD 0x00 refund id", written in the
// transaction that commits refunded, keyed by e.Today()'s zone), not scan
// every refund.
var dayRefunds func(e *Engine, tx *bolt.Tx, day string) ([]DayRefund, error)

func refundsOfDay(e *Engine, tx *bolt.Tx, day string) ([]DayRefund, error) {
	if dayRefunds == nil {
		return nil, nil
	}
	return dayRefunds(e, tx, day)
}

// DailyReport returns the takings of the store day day ("2006-01-02" in
// Options.Location) from the day index: it reads that day's checkouts
// only. Errors: ErrBadRequest for a malformed day; a database error.
func (e *Engine) DailyReport(day string) (DailyReport, error) {
	rep := DailyReport{Date: day, StoreID: e.opts.StoreID, TerminalID: e.opts.TerminalID, ByOperator: []OperatorTakings{}}
	if err := parseDay(day); err != nil {
		return rep, err
	}
	if err := e.ensureDayIndex(); err != nil {
		return rep, err
	}
	ops := map[string]*OperatorTakings{}
	op := func(id string) *OperatorTakings {
		o := ops[id]
		if o == nil {
			o = &OperatorTakings{OperatorID: id}
			ops[id] = o
		}
		return o
	}
	err := e.db.View(func(tx *bolt.Tx) error {
		for _, d := range checkoutsOfDay(tx, day) {
			switch d.state {
			case Cancelled:
				rep.Cancelled.Count++
			case NeedsAttention:
				rep.NeedsAttention.Count++
			case Paid:
				r, err := getRecord(tx, d.id)
				if err != nil {
					continue // pruned: a day past retention
				}
				rep.Paid.Count++
				rep.Paid.Amount += r.PaidAmount
				rep.Discounts += r.Discount
				o := op(r.OperatorID)
				o.Paid.Count++
				o.Paid.Amount += r.PaidAmount
			}
		}
		refunds, err := refundsOfDay(e, tx, day)
		if err != nil {
			return err
		}
		for _, rf := range refunds {
			rep.Refunds.Count++
			rep.Refunds.Amount += rf.Amount
			o := op(rf.OperatorID)
			o.Refunds.Count++
			o.Refunds.Amount += rf.Amount
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	rep.Net = rep.Paid.Amount - rep.Refunds.Amount
	for _, o := range ops {
		rep.ByOperator = append(rep.ByOperator, *o)
	}
	slices.SortFunc(rep.ByOperator, func(a, b OperatorTakings) int { return strings.Compare(a.OperatorID, b.OperatorID) })
	return rep, nil
}

// DayTrade is a trade the gateway charged, of a checkout that ended on a
// day: what reconciliation compares with the bill.
type DayTrade struct {
	CheckoutID string
	OutTradeNo string
	// Amount is what was charged: paid_amount, or for a trade cancelled
	// after it was paid with no paid_amount recorded, amount − discount
	// (what trade.pay asked for).
	Amount gateway.Amount
	// Cancelled is true for a paid trade that was then cancelled with a
	// refund (Checkout.Refunded): the bill shows the trade and a refund.
	Cancelled bool
}

// DayTrades returns the trades of the checkouts that ended on store day
// day (paid, and cancelled after the gateway had charged them) and the
// refunds that reached refunded that day. Errors: ErrBadRequest for a
// malformed day; a database error.
func (e *Engine) DayTrades(day string) ([]DayTrade, []DayRefund, error) {
	if err := parseDay(day); err != nil {
		return nil, nil, err
	}
	if err := e.ensureDayIndex(); err != nil {
		return nil, nil, err
	}
	var trades []DayTrade
	var refunds []DayRefund
	err := e.db.View(func(tx *bolt.Tx) error {
		for _, d := range checkoutsOfDay(tx, day) {
			if d.state != Paid && d.state != Cancelled {
				continue
			}
			r, err := getRecord(tx, d.id)
			if err != nil || r.OutTradeNo == "" {
				continue
			}
			switch {
			case r.State == Paid:
				trades = append(trades, DayTrade{CheckoutID: r.ID, OutTradeNo: r.OutTradeNo, Amount: r.PaidAmount})
			case r.State == Cancelled && r.Refunded:
				amt := r.PaidAmount
				if amt == 0 {
					amt = r.Amount - r.Discount
				}
				trades = append(trades, DayTrade{CheckoutID: r.ID, OutTradeNo: r.OutTradeNo, Amount: amt, Cancelled: true})
			}
		}
		var err error
		refunds, err = refundsOfDay(e, tx, day)
		return err
	})
	return trades, refunds, err
}
