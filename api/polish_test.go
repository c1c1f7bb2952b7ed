package api_test

import (
	"regexp"
	"strings"
	"testing"

	"posagent/gateway/sandbox"
)

// hanChars matches Chinese characters.
var hanChars = regexp.MustCompile(`\p{Han}`)

// A body of the wrong JSON shape is described in JSON words, never by a Go
// type name such as []api.couponImport. Regression test for issue 15.
func TestBadBodyNamesNoGoType(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	for _, tt := range []struct{ path, body, want string }{
		{"/v1/coupons", `{"id":"c1"}`, "the body: want a JSON array, got a JSON object"},
		{"/v1/coupons", `[{"id":5}]`, "id: want a string, got a JSON number"},
		{"/v1/checkouts", `[]`, "the body: want a JSON object, got a JSON array"},
		{"/v1/consult", `{"user_id":true}`, "want a string, got true or false"},
	} {
		status, _, body := en.do("POST", tt.path, tt.body)
		msg := errMessage(body)
		if status != 400 || !strings.Contains(msg, tt.want) || strings.Contains(msg, "api.") || strings.Contains(msg, "[]") {
			t.Errorf("POST %s %s = %d %q, want ...%q...", tt.path, tt.body, status, msg, tt.want)
		}
	}
}

// Unset validity bounds are left out of a coupon list, not written as
// 0001-01-01T00:00:00Z. Regression test for issue 15.
func TestCouponListOmitsUnsetValidity(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	status, _, body := en.do("POST", "/v1/coupons", `[{"id":"open","user_id":"2088000000000002","title":"t","kind":"amount_off","value":"1.00"},
		{"id":"bounded","user_id":"2088000000000002","title":"t","kind":"amount_off","value":"1.00","valid_from":"2026-01-01T00:00:00+08:00","valid_until":"2099-01-01T00:00:00+08:00"}]`)
	if status != 200 {
		t.Fatalf("import = %d %v", status, body)
	}
	_, _, body = en.do("GET", "/v1/coupons", "")
	items, _ := body["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("list = %v", body)
	}
	for _, it := range items {
		c := it.(map[string]any)
		_, from := c["valid_from"]
		_, until := c["valid_until"]
		if want := c["id"] == "bounded"; from != want || until != want {
			t.Errorf("coupon %v: valid_from present %t, valid_until present %t", c["id"], from, until)
		}
	}
	cs, err := en.Client.ListCoupons(t.Context(), "")
	if err != nil || len(cs) != 2 {
		t.Fatalf("client list = %v %v", cs, err)
	}
}

// Alipay's refusals of consult and agreement queries come back in English,
// with the sub_code as the code and the gateway's own sub_msg kept beside
// it. Regression test for issue 15 (raw Chinese messages).
func TestUserAPIRefusalsInEnglish(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	for _, tt := range []struct{ method, path, body, code string }{
		{"GET", "/v1/users/" + sandbox.AgreementUserNotExist + "/agreements?personal_product_code=GENERAL_WITHHOLDING_P", "", "USER_NOT_EXIST_ERROR"},
		{"GET", "/v1/users/" + sandbox.AgreementMerchantNotExist + "/agreements?personal_product_code=GENERAL_WITHHOLDING_P", "", "MERCHANT_AGREEMENT_IS_NOT_EXIST"},
		{"POST", "/v1/consult", `{"user_id":"2088000000000002","scene":"` + sandbox.ConsultSceneSystemError + `"}`, "SYSTEM_ERROR"},
	} {
		status, _, body := en.do(tt.method, tt.path, tt.body)
		e, _ := body["error"].(map[string]any)
		msg, _ := e["message"].(string)
		sub, _ := e["sub_msg"].(string)
		if status != 422 || errCode(body) != tt.code || msg == "" || hanChars.MatchString(msg) || sub == "" {
			t.Errorf("%s %s = %d %v: want 422 %s, an English message and the gateway's sub_msg", tt.method, tt.path, status, body, tt.code)
		}
	}
}

// An unknown job kind is refused like an unknown state, not answered with
// an empty list. Regression test for issue 15.
func TestUnknownJobKindRefused(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	if status, _, body := en.do("GET", "/v1/jobs?kind=bogus", ""); status != 400 || errCode(body) != "BAD_KIND" || !strings.Contains(errMessage(body), "award_receive") {
		t.Errorf("?kind=bogus = %d %v", status, body)
	}
	if status, _, body := en.do("GET", "/v1/jobs?kind=award_receive", ""); status != 200 {
		t.Errorf("?kind=award_receive = %d %v", status, body)
	}
}
