package sandbox_test

import (
	"testing"

	"posagent/gateway"
	"posagent/gateway/sandbox"
)

type sandboxConfig = sandbox.Config

func TestDecodeReturnsTheCodesUser(t *testing.T) {
	e := mustStart(t)
	for _, code := range []string{"2512345678901234", "301234567890123456789012", newCode()} {
		r, err := e.decode(code, newNo("S"))
		if err != nil {
			t.Fatal(err)
		}
		if r.UserID != "2088"+code[len(code)-12:] || r.UserID != sandbox.UserIDOf(code) {
			t.Errorf("%s: user_id %q", code, r.UserID)
		}
	}
	if sandbox.UserIDOf("12345") != "" {
		t.Error("UserIDOf a non-code")
	}
}

func TestDecodeSenceNoBinding(t *testing.T) {
	e := mustStart(t)
	code, sence := newCode(), newNo("S")
	if _, err := e.decode(code, sence); err != nil {
		t.Fatal(err)
	}
	// Again with the same sence_no: fine, as often as needed.
	if _, err := e.decode(code, sence); err != nil {
		t.Fatal(err)
	}
	// The same code with another sence_no.
	_, err := e.decode(code, newNo("S"))
	want(t, err, failure, "SENCENO_UN_MATCH")
	// The same sence_no for another code.
	_, err = e.decode(newCode(), sence)
	want(t, err, failure, "SENCENO_UN_MATCH")
	// The first binding still holds.
	if _, err := e.decode(code, sence); err != nil {
		t.Fatal(err)
	}
	// A failed decode binds too: the gateway saw it.
	unauth, s2 := testCode(7, 0), newNo("S")
	_, err = e.decode(unauth, s2)
	want(t, err, failure, "USER_UN_AUTH")
	_, err = e.decode(unauth, newNo("S"))
	want(t, err, failure, "SENCENO_UN_MATCH")
}

func TestDecodeInputErrors(t *testing.T) {
	e := mustStart(t)
	for _, tc := range []struct {
		name, biz, sub string
	}{
		{"wrong pay_pid", `{"dynamic_id":"` + newCode() + `","sence_no":"s1","pay_pid":"2088000000000001"}`, "INPUT_ILLEGAL"},
		{"no sence_no", `{"dynamic_id":"` + newCode() + `","pay_pid":"` + sandbox.DefaultPayPID + `"}`, "INPUT_ILLEGAL"},
		{"bad sence_no", `{"dynamic_id":"` + newCode() + `","sence_no":"a b","pay_pid":"` + sandbox.DefaultPayPID + `"}`, "INPUT_ILLEGAL"},
		{"no pay_pid", `{"dynamic_id":"` + newCode() + `","sence_no":"s2"}`, "INPUT_ILLEGAL"},
		{"no dynamic_id", `{"sence_no":"s3","pay_pid":"` + sandbox.DefaultPayPID + `"}`, "INPUT_ILLEGAL"},
		{"not a payment code", `{"dynamic_id":"1234567890123456","sence_no":"s4","pay_pid":"` + sandbox.DefaultPayPID + `"}`, "ILLEGAL_CODE"},
		{"a member code", `{"dynamic_id":"3112345678901234","sence_no":"s5","pay_pid":"` + sandbox.DefaultPayPID + `"}`, "ILLEGAL_CODE"},
	} {
		r := e.do(rawCall{method: gateway.MethodTwoStageUse, biz: tc.biz})
		if r.common.Code != "40004" || r.common.SubCode != tc.sub {
			t.Errorf("%s: %s", tc.name, r.raw)
		}
	}
}
