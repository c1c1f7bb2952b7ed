package sandbox

import (
	"fmt"
	"sync"
	"time"

	"posagent/gateway"
)

// Trade statuses.
const (
	statusWait    = gateway.TradeWaitBuyerPay
	statusSuccess = gateway.TradeSuccess
	statusClosed  = gateway.TradeClosed
)

// Trade is one line of the ledger, as GET /sandbox/trades shows it. An
// out_trade_no closed by a cancel before any pay used it appears with an
// empty TradeNo, status TRADE_CLOSED and a zero amount.
type Trade struct {
	OutTradeNo  string         `json:"out_trade_no"`
	TradeNo     string         `json:"trade_no"`
	Status      string         `json:"status"` // WAIT_BUYER_PAY, TRADE_SUCCESS or TRADE_CLOSED
	TotalAmount gateway.Amount `json:"total_amount"`
	// Refunded is true once the whole amount went back (a cancel with
	// action refund, or refunds that add up to the total).
	Refunded bool `json:"refunded"`
	// RefundedAmount is the sum of the trade's refunds (the whole amount
	// after a cancel with action refund).
	RefundedAmount gateway.Amount `json:"refunded_amount"`
	// Refunds are the trade.refund refunds made, in order; never null.
	Refunds     []Refund  `json:"refunds"`
	SenceNo     string    `json:"sence_no"` // the decode's sence_no bound to the code, if any
	BuyerUserID string    `json:"buyer_user_id"`
	TerminalID  string    `json:"terminal_id,omitempty"` // the pay's terminal_id, if any
	CreatedAt   time.Time `json:"created_at"`            // sandbox clock, Asia/Shanghai
}

// Refund is one refund of a trade, as GET /sandbox/trades shows it.
type Refund struct {
	OutRequestNo string         `json:"out_request_no"`
	Amount       gateway.Amount `json:"amount"`
	Reason       string         `json:"reason,omitempty"`
	RefundedAt   time.Time      `json:"refunded_at"` // sandbox clock, Asia/Shanghai
}

// trade is the sandbox's record of a trade.
type trade struct {
	outTradeNo  string
	tradeNo     string // "" for a number closed by a cancel before any pay
	authCode    string
	amount      gateway.Amount
	status      string
	senceNo     string
	buyerUserID string
	tc          testCode
	created     time.Time
	paidAt      time.Time
	queries     int // trade.query calls while waiting

	cancelAction  string // "close" or "refund" once cancelled
	cancelledAt   time.Time
	cancelRetried bool // scCancelRetry: the retry_flag=Y answer was given
	refunded      bool

	subject    string
	terminalID string
	operatorID string
	storeID    string

	refunds        []*refund          // trade.refund refunds, in order
	byRequest      map[string]*refund // by out_request_no
	refundedAmount gateway.Amount     // sum of refunds (not of a cancel)
	refundCalls    int                // trade.refund calls refused by a test code
	refundLost     map[string]bool    // scRefundUnknownNone: out_request_nos answered 20000 once
}

// refund is one refund the sandbox made.
type refund struct {
	outRequestNo string
	amount       gateway.Amount
	reason       string
	at           time.Time
}

// code is what the sandbox knows of one payment code.
type code struct {
	firstSeen  time.Time
	senceNo    string // bound by the first decode (or by a pay's token)
	outTradeNo string // the trade this code created
}

// award is the first answer given for an out_biz_no.
type award struct {
	resp gateway.AwardResponse
}

// ledger is all business state. One mutex guards it all: every method call
// is a few map operations.
type ledger struct {
	mu      sync.Mutex
	codes   map[string]*code
	sences  map[string]string // sence_no → payment code
	trades  []*trade          // creation order
	byOut   map[string]*trade
	byNo    map[string]*trade
	awards  map[string]*award // by out_biz_no
	granted map[string]int    // awards granted per user (user_id or mobile)
	// billRows are the POST /sandbox/bill-rows overrides, in order.
	billRows []BillRow
	seq      int64
}

func newLedger() *ledger {
	return &ledger{
		codes:   make(map[string]*code),
		sences:  make(map[string]string),
		byOut:   make(map[string]*trade),
		byNo:    make(map[string]*trade),
		awards:  make(map[string]*award),
		granted: make(map[string]int),
	}
}

// code returns the record of a payment code, first seeing it now.
func (l *ledger) code(c string, now time.Time) *code {
	cs := l.codes[c]
	if cs == nil {
		cs = &code{firstSeen: now}
		l.codes[c] = cs
	}
	return cs
}

// newTradeNo makes a 28-digit trade_no like the gateway's: the date, a
// channel part and a sequence.
func (l *ledger) newTradeNo(now time.Time) string {
	l.seq++
	return fmt.Sprintf("%s22001%015d", now.In(gateway.Shanghai).Format("20060102"), l.seq)
}

// add records a new trade.
func (l *ledger) add(t *trade) {
	l.trades = append(l.trades, t)
	l.byOut[t.outTradeNo] = t
	if t.tradeNo != "" {
		l.byNo[t.tradeNo] = t
	}
}

// find looks a trade up by trade_no (which wins) or out_trade_no.
func (l *ledger) find(outTradeNo, tradeNo string) *trade {
	if tradeNo != "" {
		return l.byNo[tradeNo]
	}
	return l.byOut[outTradeNo]
}

// snapshot returns the ledger in creation order.
func (l *ledger) snapshot() []Trade {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Trade, 0, len(l.trades))
	for _, t := range l.trades {
		refunds := make([]Refund, 0, len(t.refunds))
		for _, r := range t.refunds {
			refunds = append(refunds, Refund{
				OutRequestNo: r.outRequestNo,
				Amount:       r.amount,
				Reason:       r.reason,
				RefundedAt:   r.at.In(gateway.Shanghai),
			})
		}
		refunded := t.refundedAmount
		if t.cancelAction == gateway.CancelRefund {
			refunded = t.amount
		}
		out = append(out, Trade{
			OutTradeNo:     t.outTradeNo,
			TradeNo:        t.tradeNo,
			Status:         t.status,
			TotalAmount:    t.amount,
			Refunded:       t.refunded,
			RefundedAmount: refunded,
			Refunds:        refunds,
			SenceNo:        t.senceNo,
			BuyerUserID:    t.buyerUserID,
			TerminalID:     t.terminalID,
			CreatedAt:      t.created.In(gateway.Shanghai),
		})
	}
	return out
}

// userIDOf is the buyer a payment code belongs to: "2088" and the code's
// last 12 digits. Demos and tests use it to aim coupons at a user.
func userIDOf(code string) string {
	return "2088" + code[len(code)-12:]
}

// UserIDOf returns the user_id the sandbox decodes a payment code to:
// "2088" followed by the code's last 12 digits, or "" for a string that is
// not a payment code.
func UserIDOf(code string) string {
	if !gateway.IsPaymentCode(code) {
		return ""
	}
	return userIDOf(code)
}

// logonIDOf is a masked buyer_logon_id for a user, like the gateway's.
func logonIDOf(userID string) string {
	return "138******" + userID[len(userID)-2:]
}
