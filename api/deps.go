package api

import (
	"context"
	"time"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/queue"
)

// Checkouts is what the API needs of the checkout engine
// (*checkout.Engine implements it). Errors wrap the sentinels of package
// checkout (ErrNotFound, ErrConflict, ErrBadRequest, ErrClosed, …) and may
// carry a *checkout.Error with a code and a message for the register.
type Checkouts interface {
	// Create starts a checkout; created is false when an earlier one of the
	// same order and amount is returned. Errors: ErrBadRequest,
	// ErrConflict, ErrClosed, a database error.
	Create(ctx context.Context, req checkout.CreateRequest) (c checkout.Checkout, created bool, err error)
	// Get returns one checkout. Errors: ErrNotFound.
	Get(id string) (checkout.Checkout, error)
	// List returns checkouts newest first. Errors: ErrBadRequest (unknown
	// state), a database error.
	List(f checkout.ListFilter) ([]checkout.Checkout, error)
	// Wait returns the checkout once terminal, or as it is when ctx ends
	// (nil error). Errors: ErrNotFound.
	WaitChange(ctx context.Context, id string, since time.Time) (checkout.Checkout, error)
	// Cancel abandons or cancels a checkout. Errors: ErrNotFound,
	// ErrConflict, a database error.
	Cancel(ctx context.Context, id string) (checkout.Checkout, error)
	// ImportCoupons writes coupons in one transaction. Errors:
	// ErrBadRequest (nothing written), a database error.
	ImportCoupons(cs []checkout.Coupon) (checkout.ImportResult, error)
	// ListCoupons returns one user's coupons (all when userID is empty).
	ListCoupons(userID string) ([]checkout.Coupon, error)
	// CountByState counts checkouts per state (absent states: none).
	CountByState() (map[checkout.State]int, error)
}

// Jobs is what the API needs of the durable queue (*queue.Queue implements
// it). Errors wrap queue.ErrNotFound, queue.ErrState or queue.ErrProtected
// where the method says so.
type Jobs interface {
	// Enqueue adds a job, or returns the existing one of the same kind and
	// key with existed true.
	Enqueue(kind, key string, payload any) (job queue.Job, existed bool, err error)
	// Get returns one job. Errors: queue.ErrNotFound.
	Get(id uint64) (queue.Job, error)
	// List returns jobs newest first. Errors: an unknown state.
	List(f queue.Filter) ([]queue.Job, error)
	// Retry runs a job again now. Errors: queue.ErrNotFound, queue.ErrState.
	Retry(id uint64) error
	// Drop deletes a job. Errors: queue.ErrNotFound, queue.ErrProtected.
	Drop(id uint64) error
	// Stats counts pending, dead and failed jobs.
	Stats() (queue.Stats, error)
	// Notify wakes the scheduler.
	Notify()
}

// UserAPIs is what the API needs of the gateway client for the user
// methods (*gateway.Client implements it). Errors are *gateway.Error values
// classified by gateway.KindOf.
type UserAPIs interface {
	SceneConsult(ctx context.Context, req gateway.ConsultRequest) (*gateway.ConsultResponse, error)
	AgreementQuery(ctx context.Context, req gateway.AgreementQueryRequest) (*gateway.AgreementQueryResponse, error)
}

// The production types satisfy the interfaces.
var (
	_ Checkouts = (*checkout.Engine)(nil)
	_ Jobs      = (*queue.Queue)(nil)
	_ UserAPIs  = (*gateway.Client)(nil)
)

// Refunds is what the API needs of the checkout engine for refunds (SPEC
// §11; *checkout.Engine implements it). Errors wrap the sentinels of
// package checkout and may carry a *checkout.Error (INVALID_STATE,
// REFUND_EXCEEDS_PAID, CONFLICT, BAD_AMOUNT).
type Refunds interface {
	// Refund commits a refund of a paid checkout and queues its
	// trade.refund; created is false for an existing refund_id. Errors:
	// ErrNotFound, ErrBadRequest, ErrConflict, ErrClosed, a database error.
	Refund(ctx context.Context, checkoutID string, req checkout.RefundRequest) (rf checkout.Refund, created bool, err error)
	// WaitRefund returns the refund once refunded or failed, or as it is
	// when ctx ends (nil error). Errors: ErrNotFound.
	WaitRefund(ctx context.Context, id string) (checkout.Refund, error)
	// RefundsOf returns a checkout's refunds, oldest first. Errors:
	// ErrNotFound.
	RefundsOf(checkoutID string) ([]checkout.Refund, error)
	// ListRefunds returns refunds newest first. Errors: ErrBadRequest.
	ListRefunds(f checkout.RefundFilter) ([]checkout.Refund, error)
}

var _ Refunds = (*checkout.Engine)(nil)
