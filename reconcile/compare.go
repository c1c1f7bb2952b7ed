package reconcile

import (
	"sort"
	"time"

	"posagent/gateway"
)

// Reconciliation states (SPEC §12). Compare gives matched or mismatched;
// the caller uses unavailable (the bill is not ready: isp.bill_not_exist)
// and pending (not run yet).
const (
	StateMatched     = "matched"
	StateMismatched  = "mismatched"
	StateUnavailable = "unavailable"
	StatePending     = "pending"
)

// Trade is one payment posagent recorded for the day: a checkout paid on
// the gateway.
type Trade struct {
	// CheckoutID names the checkout in the result.
	CheckoutID string
	// OutTradeNo is the attempt's out_trade_no that the gateway paid.
	OutTradeNo string
	// Amount is what was charged (the checkout's paid_amount, the pay's
	// total_amount): compared with the bill's 订单金额（元）.
	Amount gateway.Amount
	// Cancelled is true when the paid trade was then cancelled (trade.cancel
	// with action refund): the bill shows the trade and a refund of all of
	// it, which is expected and not a refund of the journal's.
	Cancelled bool
}

// Refund is one refund posagent recorded as refunded for the day.
type Refund struct {
	// RefundID and CheckoutID name the refund in the result.
	RefundID   string
	CheckoutID string
	// OutTradeNo and OutRequestNo are what trade.refund was sent with.
	OutTradeNo   string
	OutRequestNo string
	// Amount is the refund, positive.
	Amount gateway.Amount
}

// Total is a count and a sum of amounts.
type Total struct {
	Count  int            `json:"count"`
	Amount gateway.Amount `json:"amount"`
}

// AmountMismatch is a trade in both, with different amounts.
type AmountMismatch struct {
	CheckoutID string         `json:"checkout_id"`
	OutTradeNo string         `json:"out_trade_no"`
	Local      gateway.Amount `json:"local"`
	Bill       gateway.Amount `json:"bill"`
}

// Refund mismatch reasons.
const (
	RefundMissingInBill = "missing_in_bill" // refunded locally, no refund row
	RefundMissingLocal  = "missing_locally" // a refund row posagent has no refund for
	RefundAmount        = "amount"          // both, different amounts
)

// RefundMismatch is a refund that does not match. Local and Bill are
// positive amounts; the one missing is zero.
type RefundMismatch struct {
	Reason       string         `json:"reason"`
	RefundID     string         `json:"refund_id,omitempty"`
	CheckoutID   string         `json:"checkout_id,omitempty"`
	OutTradeNo   string         `json:"out_trade_no"`
	OutRequestNo string         `json:"out_request_no"`
	Local        gateway.Amount `json:"local"`
	Bill         gateway.Amount `json:"bill"`
	// Line is the bill row's line, 0 when there is none.
	Line int `json:"line,omitempty"`
}

// Refunds is the refund half of a result.
type Refunds struct {
	Matched    Total            `json:"matched"`
	Mismatched []RefundMismatch `json:"mismatched"`
}

// Result is a day's reconciliation, in the JSON of SPEC §12. Lists are
// never null.
type Result struct {
	// Date is the bill's day, "2006-01-02".
	Date string `json:"date"`
	// State is StateMatched or StateMismatched from Compare.
	State string `json:"state"`
	// CheckedAt is when the check ran. Compare leaves it zero: the caller
	// stamps it with its clock.
	CheckedAt time.Time `json:"checked_at"`
	// Matched counts and sums the trades found in both with equal amounts.
	Matched Total `json:"matched"`
	// MissingLocally are bill trade rows posagent has no trade for (and
	// duplicate trade rows of one out_trade_no).
	MissingLocally []Row `json:"missing_locally"`
	// MissingInBill are the checkout ids of trades the bill does not show.
	MissingInBill []string `json:"missing_in_bill"`
	// AmountMismatch are trades in both with different amounts.
	AmountMismatch []AmountMismatch `json:"amount_mismatch"`
	// Refunds compares the refunds both ways.
	Refunds Refunds `json:"refunds"`
}

// Mismatched reports whether anything differs.
func (r *Result) Mismatched() bool {
	return len(r.MissingLocally) > 0 || len(r.MissingInBill) > 0 ||
		len(r.AmountMismatch) > 0 || len(r.Refunds.Mismatched) > 0
}

type refundKey struct{ outTradeNo, outRequestNo string }

// Compare checks a day's bill rows (already narrowed to this terminal)
// against the trades and refunds posagent recorded for that day, both ways
// and to the fen. Trades match on out_trade_no and compare the bill's
// 订单金额（元） with Trade.Amount; refunds match on out_trade_no and
// 退款批次号/请求号 and compare amounts. The refund rows of a Cancelled
// trade that no local refund claims are the cancel's, and match when they
// add up to the trade's amount. Rows of other business types are ignored.
// Lists are sorted (bill rows by line, ids as given) so a result reads the
// same every time.
func Compare(day string, bill []Row, local []Trade, localRefunds []Refund) Result {
	res := Result{
		Date:           day,
		MissingLocally: []Row{},
		MissingInBill:  []string{},
		AmountMismatch: []AmountMismatch{},
		Refunds:        Refunds{Mismatched: []RefundMismatch{}},
	}

	trades := make(map[string]Row)
	refunds := make(map[refundKey]Row)
	var refundRows []Row
	for _, r := range bill {
		switch r.Kind {
		case KindTrade:
			if _, dup := trades[r.OutTradeNo]; dup {
				res.MissingLocally = append(res.MissingLocally, r)
				continue
			}
			trades[r.OutTradeNo] = r
		case KindRefund:
			k := refundKey{r.OutTradeNo, r.OutRequestNo}
			if prev, dup := refunds[k]; dup {
				prev.Amount += r.Amount // one refund split over rows: sum them
				refunds[k] = prev
				continue
			}
			refunds[k] = r
			refundRows = append(refundRows, r)
		}
	}

	seen := make(map[string]bool, len(local))
	cancelled := make(map[string]Trade)
	for _, t := range local {
		if seen[t.OutTradeNo] {
			continue // the caller listed a trade twice; count it once
		}
		seen[t.OutTradeNo] = true
		if t.Cancelled {
			cancelled[t.OutTradeNo] = t
		}
		row, ok := trades[t.OutTradeNo]
		if !ok {
			res.MissingInBill = append(res.MissingInBill, t.CheckoutID)
			continue
		}
		delete(trades, t.OutTradeNo)
		if row.Amount != t.Amount {
			res.AmountMismatch = append(res.AmountMismatch, AmountMismatch{
				CheckoutID: t.CheckoutID, OutTradeNo: t.OutTradeNo, Local: t.Amount, Bill: row.Amount,
			})
			continue
		}
		res.Matched.Count++
		res.Matched.Amount += t.Amount
	}
	for _, r := range trades {
		res.MissingLocally = append(res.MissingLocally, r)
	}
	sort.Slice(res.MissingLocally, func(i, j int) bool { return res.MissingLocally[i].Line < res.MissingLocally[j].Line })

	claimed := make(map[refundKey]bool, len(localRefunds))
	for _, lr := range localRefunds {
		k := refundKey{lr.OutTradeNo, lr.OutRequestNo}
		if claimed[k] {
			continue
		}
		claimed[k] = true
		row, ok := refunds[k]
		if !ok {
			res.Refunds.Mismatched = append(res.Refunds.Mismatched, RefundMismatch{
				Reason: RefundMissingInBill, RefundID: lr.RefundID, CheckoutID: lr.CheckoutID,
				OutTradeNo: lr.OutTradeNo, OutRequestNo: lr.OutRequestNo, Local: lr.Amount,
			})
			continue
		}
		if -row.Amount != lr.Amount {
			res.Refunds.Mismatched = append(res.Refunds.Mismatched, RefundMismatch{
				Reason: RefundAmount, RefundID: lr.RefundID, CheckoutID: lr.CheckoutID,
				OutTradeNo: lr.OutTradeNo, OutRequestNo: lr.OutRequestNo, Local: lr.Amount, Bill: -row.Amount, Line: row.Line,
			})
			continue
		}
		res.Refunds.Matched.Count++
		res.Refunds.Matched.Amount += lr.Amount
	}

	// Refund rows nobody claimed: a cancel's reversal when they add up to a
	// cancelled trade's amount, else missing locally.
	unclaimed := make(map[string][]Row)
	var order []string
	for _, r := range refundRows {
		k := refundKey{r.OutTradeNo, r.OutRequestNo}
		if claimed[k] {
			continue
		}
		r = refunds[k]
		if _, ok := unclaimed[r.OutTradeNo]; !ok {
			order = append(order, r.OutTradeNo)
		}
		unclaimed[r.OutTradeNo] = append(unclaimed[r.OutTradeNo], r)
	}
	for _, out := range order {
		rows := unclaimed[out]
		if t, ok := cancelled[out]; ok {
			var sum gateway.Amount
			for _, r := range rows {
				sum -= r.Amount
			}
			if sum == t.Amount {
				res.Refunds.Matched.Count++
				res.Refunds.Matched.Amount += sum
				continue
			}
		}
		for _, r := range rows {
			res.Refunds.Mismatched = append(res.Refunds.Mismatched, RefundMismatch{
				Reason: RefundMissingLocal, OutTradeNo: r.OutTradeNo, OutRequestNo: r.OutRequestNo,
				Bill: -r.Amount, Line: r.Line,
			})
		}
	}

	res.State = StateMatched
	if res.Mismatched() {
		res.State = StateMismatched
	}
	return res
}

// Unavailable is the result of a day whose bill the gateway does not have
// yet (ErrBillNotExist): state unavailable, empty lists.
func Unavailable(day string) Result {
	return Result{
		Date:           day,
		State:          StateUnavailable,
		MissingLocally: []Row{},
		MissingInBill:  []string{},
		AmountMismatch: []AmountMismatch{},
		Refunds:        Refunds{Mismatched: []RefundMismatch{}},
	}
}
