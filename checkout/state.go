package checkout

// State is where a checkout is in SPEC §4's machine:
//
//	awaiting_scan → decoding → paying → (waiting_buyer) → paid
//
// with failed, cancelling → cancelled, and needs_attention as the other ends.
type State string

// The states. Paid, Failed, Cancelled and NeedsAttention are terminal.
const (
	AwaitingScan   State = "awaiting_scan"   // waiting for the cashier to scan the customer's code
	Decoding       State = "decoding"        // the code is being decoded (two-stage use); the code is only in memory
	Paying         State = "paying"          // the pay intent is committed; trade.pay sent or about to be
	WaitingBuyer   State = "waiting_buyer"   // the gateway answered 10003: the buyer is confirming
	Paid           State = "paid"            // the gateway confirmed the payment
	Failed         State = "failed"          // nothing was charged
	Cancelling     State = "cancelling"      // a durable trade_cancel job runs until the gateway answers
	Cancelled      State = "cancelled"       // abandoned before paying, or the trade closed or refunded
	NeedsAttention State = "needs_attention" // the gateway refused to cancel an unresolved trade: a person must look
)

// States lists every state, in the order of the machine.
var States = []State{AwaitingScan, Decoding, Paying, WaitingBuyer, Paid, Failed, Cancelling, Cancelled, NeedsAttention}

// Terminal reports whether s is an end state.
func (s State) Terminal() bool {
	switch s {
	case Paid, Failed, Cancelled, NeedsAttention:
		return true
	}
	return false
}

// Valid reports whether s is one of States.
func (s State) Valid() bool {
	for _, x := range States {
		if s == x {
			return true
		}
	}
	return false
}

// holdsScanSlot reports whether a checkout in s occupies the one scan slot
// of the terminal: awaiting a scan, or decoding one (a decode may come back
// to awaiting_scan).
func (s State) holdsScanSlot() bool { return s == AwaitingScan || s == Decoding }
