package api_test

import (
	"net/http"
	"strings"
	"testing"

	"posagent/gateway/sandbox"
)

// A reply that fails verification is a key or certificate problem, and the
// register is told so — not "Alipay could not be reached".
func TestUnverifiedReplyIsNotAnOutage(t *testing.T) {
	en := mustOpenEnv(t, envOptions{ConsultScene: "DEFAULT_SCENE"})
	en.SB.SetFaults(sandbox.Faults{BadSign: 1})
	status, _, body := en.do("POST", "/v1/consult", `{"user_id":"2088000000000002"}`)
	if status != http.StatusBadGateway || errCode(body) != "GATEWAY_UNVERIFIED" || !strings.Contains(errMessage(body), "could not be verified") {
		t.Fatalf("consult with a bad reply signature: %d %v", status, body)
	}
}
