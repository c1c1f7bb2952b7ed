package checkout

import (
	"context"
	"time"
)

// WaitChange returns checkout id as soon as its updated_at differs from
// since or it is terminal, or its current state when ctx ends first (with
// a nil error). A zero since waits for a terminal state, like Wait. It is
// what GET /v1/checkouts/{id}?wait=&since= holds on, so a register shows
// "ask the customer to refresh the code" the moment a scan is rejected.
// Errors: ErrNotFound.
func (e *Engine) WaitChange(ctx context.Context, id string, since time.Time) (Checkout, error) {
	for {
		e.mu.Lock()
		ch := e.changed
		e.mu.Unlock()
		r, err := e.get(id)
		if err != nil || r.State.Terminal() || !since.IsZero() && !r.UpdatedAt.Equal(since) {
			return r.Checkout, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return r.Checkout, nil
		}
	}
}
