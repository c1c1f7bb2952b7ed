package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"posagent/checkout"
)

// An operator's Prometheus scrapes /metrics with the token and sees the
// checkout that was just paid.
func TestMetricsCountPaidCheckouts(t *testing.T) {
	en := mustOpenEnv(t, envOptions{Metrics: true})
	status, _, body := en.do("POST", "/v1/checkouts", `{"order_id":"`+newOrderID()+`","amount":"12.00","subject":"s","auth_code":"`+normalCode()+`"}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, body)
	}
	c, err := en.Client.GetCheckout(context.Background(), body["id"].(string), 10*time.Second)
	if err != nil || c.State != checkout.Paid {
		t.Fatalf("checkout = %+v, %v", c, err)
	}
	get := func(token string) (int, string) {
		req, _ := http.NewRequest("GET", en.HTTP.URL+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, _ := get(""); status != http.StatusUnauthorized {
		t.Fatalf("GET /metrics without a token: %d", status)
	}
	status, text := get(en.Token)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", status, text)
	}
	for _, want := range []string{`posagent_checkouts{state="paid"} 1`, `posagent_checkouts{state="awaiting_scan"} 0`, `posagent_queue_jobs{state="pending"}`, `posagent_takings_today_yuan{kind="paid"} 12`} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
}
