//go:build linux

package e2e_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/tests/internal/testenv"
)

// The alert rules shipped in docs/prometheus are only worth anything if the
// daemon exports every series they use: scrape the real daemon after a
// payment and check each posagent_* name of alerts.yml is there.
func TestMetricsServeWhatTheAlertsUse(t *testing.T) {
	env := testenv.New(t, testenv.Options{})
	env.Start(t)
	cl := env.Client(t)
	co, _, err := cl.CreateCheckout(context.Background(), api.CreateCheckoutRequest{OrderID: "MET-1", Amount: 500, Subject: "m", AuthCode: testenv.Code()})
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitState(t, cl, co.ID, checkout.Paid, 20*time.Second)

	req, _ := http.NewRequest("GET", env.BaseURL()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+env.Token(t))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d\n%s", resp.StatusCode, text)
	}
	for _, want := range []string{
		`posagent_checkouts{state="paid"} 1`,
		`posagent_gateway_up 1`,
		`posagent_gateway_call_duration_seconds_count{kind="success",method="alipay.trade.pay"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	rules, err := os.ReadFile("../../docs/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`posagent_[a-z_]+`).FindAllString(string(rules), -1) {
		if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).MatchString(text) {
			t.Errorf("alerts.yml uses %s, which /metrics does not export", name)
		}
	}
}
