package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// A register long-polls with since=updated_at: a rejected scan answers the
// poll at once (the wait is 60 s; the test gives up after 20 s), so the
// cashier can ask the customer to refresh the code.
func TestWaitSinceAnswersOnAnyChange(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	c := en.mustCreate("6.00")
	defer en.settle(c)
	type result struct {
		status int
		body   map[string]any
	}
	done := make(chan result, 1)
	go func() {
		status, _, body := en.do("GET", "/v1/checkouts/"+c.ID+"?wait=60s&since="+c.UpdatedAt.Format(time.RFC3339Nano), "")
		done <- result{status, body}
	}()
	time.Sleep(100 * time.Millisecond) // let the poll start; harmless if it starts later
	if _, err := en.E.Scan(context.Background(), "hello-not-a-code"); err == nil {
		t.Fatal("a non-Alipay scan was accepted")
	}
	select {
	case r := <-done:
		if r.status != http.StatusOK || r.body["state"] != "awaiting_scan" || errCode(r.body) != "NOT_ALIPAY_CODE" {
			t.Fatalf("poll answered %d %v", r.status, r.body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the poll with since= did not answer on the rejected scan")
	}
	if status, _, body := en.do("GET", "/v1/checkouts/"+c.ID+"?wait=1s&since=yesterday", ""); status != http.StatusBadRequest {
		t.Fatalf("bad since: %d %v", status, body)
	}
}

// A register that lost its checkout id finds the checkouts of its order,
// newest first; a malformed page cursor is an error, not a silent restart.
func TestListByOrderAndBadBefore(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	first := en.mustCreate("7.00")
	en.settle(first) // cancelled: the order is free again
	status, _, body := en.do("POST", "/v1/checkouts", `{"order_id":"`+first.OrderID+`","amount":"7.00","subject":"s"}`)
	if status != http.StatusCreated {
		t.Fatalf("second checkout of the order: %d %v", status, body)
	}
	second := body["id"].(string)
	defer en.do("POST", "/v1/checkouts/"+second+"/cancel", "")
	status, _, body = en.do("GET", "/v1/checkouts?order_id="+first.OrderID, "")
	items, _ := body["items"].([]any)
	if status != http.StatusOK || len(items) != 2 || items[0].(map[string]any)["id"] != second || items[1].(map[string]any)["id"] != first.ID {
		t.Fatalf("checkouts of order %s: %d %v", first.OrderID, status, body)
	}
	if status, _, body := en.do("GET", "/v1/checkouts?before=yesterday", ""); status != http.StatusBadRequest {
		t.Fatalf("bad before: %d %v", status, body)
	}
}
