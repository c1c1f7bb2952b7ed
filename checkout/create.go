package checkout

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
)

func (r *CreateRequest) validate() error {
	switch {
	case r.OrderID == "" || len(r.OrderID) > 64 || !printable(r.OrderID):
		return badRequest("order_id: want 1 to 64 printable ASCII characters")
	case r.Amount < 1 || r.Amount > gateway.MaxAmount:
		return badRequest("amount %s: must be between 0.01 and %s", r.Amount, gateway.MaxAmount)
	case r.Subject == "" || utf8.RuneCountInString(r.Subject) > 256:
		return badRequest("subject: required, at most 256 characters")
	case utf8.RuneCountInString(r.OperatorID) > 28:
		return badRequest("operator_id: at most 28 characters")
	case r.AuthCode != "" && !gateway.IsPaymentCode(r.AuthCode):
		return newReqError(ErrBadRequest, CodeNotAlipayCode, "auth_code %s is not an Alipay payment code", gateway.MaskCode(r.AuthCode))
	}
	return nil
}

// Create starts a checkout for an order, in awaiting_scan, or straight in
// decoding when req.AuthCode is set. created is false when an earlier
// checkout of the same order and amount is returned instead: one that is
// not finished, or paid. An order whose latest checkout failed or was
// cancelled gets a new checkout (a new attempt, with a new out_trade_no).
//
// Errors: ErrBadRequest (invalid request); ErrConflict (same order_id with
// another amount; the order needs attention; another checkout is awaiting
// a scan); ErrClosed; a database error.
func (e *Engine) Create(ctx context.Context, req CreateRequest) (c Checkout, created bool, err error) {
	if err := req.validate(); err != nil {
		return Checkout{}, false, err
	}
	if e.isClosing() {
		return Checkout{}, false, ErrClosed
	}
	e.expireScans()
	var r record
	var reused, scanned bool
	now := e.clk.Now()
	err = e.db.Update(func(tx *bolt.Tx) error {
		created, reused, scanned = false, false, false
		prev, found, err := orderCheckout(tx, req.OrderID)
		if err != nil {
			return err
		}
		if found {
			switch {
			case prev.State == NeedsAttention:
				return conflictOf(ErrOrderNeedsAttention, CodeOrderNeedsAttention, "order %s needs attention (checkout %s): check the trade with Alipay before charging again", req.OrderID, prev.ID)
			case prev.State == Failed || prev.State == Cancelled:
				// a new attempt
			case prev.Amount != req.Amount:
				return conflictOf(ErrOrderAmountMismatch, CodeOrderAmountMismatch, "order %s already has checkout %s for %s", req.OrderID, prev.ID, prev.Amount)
			case req.AuthCode != "" && prev.State == AwaitingScan:
				// The register scanned the code itself: take it as the scan.
				r = prev
				if reused, err = e.beginDecode(tx, &r, req.AuthCode, now); err != nil {
					return err
				}
				scanned = true
				return e.putRecord(tx, &r, AwaitingScan)
			default:
				r = prev
				return nil
			}
		}
		holder, held, err := scanSlotHolder(tx)
		if err != nil {
			return err
		}
		if held {
			return scannerBusy(holder)
		}
		seq, err := tx.Bucket(bucketRecords).NextSequence()
		if err != nil {
			return err
		}
		r = record{Checkout: Checkout{
			ID: newID(seq), OrderID: req.OrderID, State: AwaitingScan,
			Amount: req.Amount, Subject: req.Subject, OperatorID: req.OperatorID,
			CreatedAt: now, UpdatedAt: now,
		}, ScanFrom: e.steady.Now()}
		if req.AuthCode != "" {
			if reused, err = e.beginDecode(tx, &r, req.AuthCode, now); err != nil {
				return err
			}
			scanned = true
		}
		created = true
		if err := tx.Bucket(bucketOrders).Put([]byte(r.OrderID), []byte(r.ID)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketOrderIDs).Put(orderIDKey(r.OrderID, r.ID), nil); err != nil {
			return err
		}
		return e.putRecord(tx, &r, "")
	})
	if err != nil {
		return Checkout{}, false, err
	}
	if created {
		e.broadcast(r.Checkout)
		e.hook(StepCreated)
		e.ev(zerolog.InfoLevel, &r, "checkout_created").Str("amount", r.Amount.String()).
			Str("subject", r.Subject).Str("operator_id", r.OperatorID).Msg("checkout created")
	}
	if scanned {
		if !created {
			e.broadcast(r.Checkout)
		}
		e.scanAccepted(&r, req.AuthCode, reused)
	}
	return r.Checkout, created, nil
}

// Cancel abandons checkout id: one awaiting a scan (or decoding) becomes
// cancelled at once; one paying or waiting for the buyer goes to cancelling,
// and a durable trade_cancel job closes or refunds its trade. Cancelling a
// checkout that is cancelling or cancelled returns it unchanged.
//
// Errors: ErrNotFound; ErrInvalidState (also ErrConflict: paid, failed or
// needs_attention); a database error.
func (e *Engine) Cancel(ctx context.Context, id string) (Checkout, error) {
	for {
		r, err := e.get(id)
		if err != nil {
			return Checkout{}, err
		}
		switch r.State {
		case Cancelling, Cancelled:
			return r.Checkout, nil
		case Paid, Failed, NeedsAttention:
			return r.Checkout, conflictOf(ErrInvalidState, CodeInvalidState, "checkout %s is %s and cannot be cancelled", id, r.State)
		case AwaitingScan, Decoding:
			r, err = e.transition(id, func(tx *bolt.Tx, r *record, now time.Time) error {
				if !r.State.holdsScanSlot() {
					return errStale
				}
				r.State, r.CancelReason, r.Error = Cancelled, reasonRegister, nil
				return nil
			})
			if err == nil {
				e.wakeFlow(id)
				e.hook(StepCancelled)
				e.ev(zerolog.InfoLevel, &r, "cancelled").Str("reason", reasonRegister).Msg("checkout abandoned before paying")
				return r.Checkout, nil
			}
		case Paying, WaitingBuyer:
			r, err = e.toCancelling(id, reasonRegister, nil, nil)
			if err == nil {
				return r.Checkout, nil
			}
		}
		if !isStale(err) {
			return r.Checkout, err
		}
		// It moved on while we looked: answer from its new state (every
		// move is forward, so this ends).
	}
}

// scannerBusy is the conflict of a new checkout while holder holds the
// scanner.
func scannerBusy(holder record) error {
	if holder.State == Decoding {
		return conflictOf(ErrScannerBusy, CodeScannerBusy, "checkout %s (order %s) is decoding a scanned code", holder.ID, holder.OrderID)
	}
	return conflictOf(ErrScannerBusy, CodeScannerBusy, "checkout %s (order %s) is awaiting a scan", holder.ID, holder.OrderID)
}
