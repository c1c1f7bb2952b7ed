package sandbox_test

import (
	"testing"

	"posagent/gateway"
	"posagent/gateway/sandbox"
)

func TestSceneConsult(t *testing.T) {
	e := mustStart(t)
	for _, tc := range []struct {
		name   string
		req    gateway.ConsultRequest
		result bool
		invite string
	}{
		{"even user_id", gateway.ConsultRequest{Principal: gateway.UserPrincipal{UserID: "2088000000000002"}, Scene: "youku"}, true, "false"},
		{"odd user_id", gateway.ConsultRequest{Principal: gateway.UserPrincipal{UserID: "2088000000000001"}, Scene: "youku"}, false, "false"},
		{"user_id wins over mobile", gateway.ConsultRequest{Principal: gateway.UserPrincipal{UserID: "2088000000000001", Mobile: "13800000002"}, Scene: "youku"}, false, "false"},
		{"even mobile", gateway.ConsultRequest{Principal: gateway.UserPrincipal{Mobile: "13800000008"}, Scene: "youku"}, true, "false"},
		{"invite scene", gateway.ConsultRequest{Principal: gateway.UserPrincipal{UserID: "2088000000000004"}, Scene: "youku", InviteScene: "CommerceService"}, true, "true"},
	} {
		for range 2 { // deterministic
			r, err := e.c.SceneConsult(e.ctx, tc.req)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if r.ConsultResult != tc.result || r.InviteResult != tc.invite {
				t.Errorf("%s: consult_result %v invite_result %q, want %v %q", tc.name, r.ConsultResult, r.InviteResult, tc.result, tc.invite)
			}
		}
	}
	email := gateway.ConsultRequest{Principal: gateway.UserPrincipal{Email: "a@b.test"}, Scene: "youku"}
	r1, err1 := e.c.SceneConsult(e.ctx, email)
	r2, err2 := e.c.SceneConsult(e.ctx, email)
	if err1 != nil || err2 != nil || r1.ConsultResult != r2.ConsultResult {
		t.Fatalf("email: %v %v %v %v", r1, r2, err1, err2)
	}
	_, err := e.c.SceneConsult(e.ctx, gateway.ConsultRequest{Principal: gateway.UserPrincipal{UserID: "2088000000000002"}, Scene: sandbox.ConsultSceneSystemError})
	want(t, err, failure, "SYSTEM_ERROR")
	for name, biz := range map[string]string{
		"no principal": `{"scene":"youku"}`,
		"no scene":     `{"principal":{"user_id":"2088000000000002"}}`,
	} {
		r := e.do(rawCall{method: gateway.MethodSceneConsult, biz: biz})
		if r.common.Code != "40004" || r.common.SubCode != "INVALID_PARAMETER" {
			t.Errorf("%s: %s", name, r.raw)
		}
	}
}

func TestInviteAward(t *testing.T) {
	e := mustStart(t)
	award := func(mobile, userID, outBizNo string) (*gateway.AwardResponse, error) {
		return e.c.InviteAward(e.ctx, gateway.AwardRequest{Mobile: mobile, UserID: userID, OutBizNo: outBizNo})
	}
	result := func(mobile, userID, outBizNo string) string {
		t.Helper()
		r, err := award(mobile, userID, outBizNo)
		if err != nil {
			t.Fatal(err)
		}
		return r.UserAttr + " " + r.BizResultCode
	}

	// A new user (odd last digit): one award, then NEW_ALREADY_AWARD.
	first := newNo("B")
	r, err := award("13800000001", "", first)
	if err != nil || r.BizResultCode != gateway.AwardNewSuccess || r.UserAttr != "NEW" || r.Mobile != "13800000001" || r.BizResultDesc == "" {
		t.Fatalf("new user: %+v %v", r, err)
	}
	if got := result("13800000001", "", newNo("B")); got != "NEW "+gateway.AwardNewAlready {
		t.Fatalf("second award to a new user: %s", got)
	}
	// The first out_biz_no answers its first result again, never a new award.
	again, err := award("13800000001", "", first)
	if err != nil || *again != *r {
		t.Fatalf("repeated out_biz_no: %+v, first %+v (%v)", again, r, err)
	}

	// An old user (even): three awards, then over the limit.
	for i := range 3 {
		if got := result("13800000002", "", newNo("B")); got != "OLD "+gateway.AwardOldSuccess {
			t.Fatalf("old award %d: %s", i, got)
		}
	}
	if got := result("13800000002", "", newNo("B")); got != "OLD "+gateway.AwardOldOverLimit {
		t.Fatalf("fourth old award: %s", got)
	}
	// user_id wins over mobile.
	if got := result("13800000002", "2088000000000011", newNo("B")); got != "NEW "+gateway.AwardNewSuccess {
		t.Fatalf("by user_id: %s", got)
	}

	for mobile, code := range map[string]string{
		sandbox.AwardMobileActivityClose: gateway.AwardActivityClose,
		sandbox.AwardMobileActivityPause: gateway.AwardActivityPause,
		sandbox.AwardMobileOverLimit:     gateway.AwardOldOverLimit,
	} {
		r, err := award(mobile, "", newNo("B"))
		if err != nil || r.BizResultCode != code {
			t.Errorf("test mobile %s: %+v %v", mobile, r, err)
		}
	}
	_, err = award(sandbox.AwardMobileSystemError, "", newNo("B"))
	want(t, err, failure, "SYSTEM_ERROR")
	_, err = award("1380000", "", newNo("B"))
	want(t, err, failure, "INVALID_PARAMETER")
	r2 := e.do(rawCall{method: gateway.MethodInviteAward, biz: `{"out_biz_no":"x"}`})
	if r2.common.SubCode != "INVALID_PARAMETER" {
		t.Errorf("no user: %s", r2.raw)
	}
}

func TestAgreementQuery(t *testing.T) {
	e := mustStart(t)
	q := func(req gateway.AgreementQueryRequest) (*gateway.AgreementQueryResponse, error) {
		return e.c.AgreementQuery(e.ctx, req)
	}
	req := gateway.AgreementQueryRequest{PersonalProductCode: "GENERAL_WITHHOLDING_P", AlipayUserID: "2088101122675263"}
	r, err := q(req)
	if err != nil || len(r.UsageAgreementInfoList) != 1 {
		t.Fatalf("known user: %+v %v", r, err)
	}
	a := r.UsageAgreementInfoList[0]
	if a.PrincipalID != req.AlipayUserID || a.Status != "NORMAL" || a.PersonalProductCode != req.PersonalProductCode ||
		a.AgreementNo == "" || a.SignScene == "" || a.ThirdPartyType != "PARTNER" || a.PricipalType != "CARD" {
		t.Fatalf("agreement %+v", a)
	}
	r2, err := q(req)
	if err != nil || r2.UsageAgreementInfoList[0] != a {
		t.Fatalf("not deterministic: %+v %v", r2, err)
	}
	scene := req
	scene.SignScene = "INDUSTRY|MEDICAL"
	if r, err := q(scene); err != nil || r.UsageAgreementInfoList[0].SignScene != "INDUSTRY|MEDICAL" {
		t.Fatalf("sign_scene: %+v %v", r, err)
	}
	if r, err := q(gateway.AgreementQueryRequest{PersonalProductCode: "GENERAL_WITHHOLDING_P", AlipayLogonID: "abx@alitest.com"}); err != nil || len(r.UsageAgreementInfoList) != 1 {
		t.Fatalf("by logon id: %+v %v", r, err)
	}
	if r, err := q(gateway.AgreementQueryRequest{PersonalProductCode: "GENERAL_WITHHOLDING_P", AlipayUserID: sandbox.AgreementUserNoAgreements}); err != nil || r.UsageAgreementInfoList == nil || len(r.UsageAgreementInfoList) != 0 {
		t.Fatalf("user without agreements: %+v %v", r, err)
	}
	for _, tc := range []struct {
		name string
		req  gateway.AgreementQueryRequest
		sub  string
	}{
		{"unknown user", gateway.AgreementQueryRequest{PersonalProductCode: "GENERAL_WITHHOLDING_P", AlipayUserID: sandbox.AgreementUserNotExist}, "USER_NOT_EXIST_ERROR"},
		{"malformed user_id", gateway.AgreementQueryRequest{PersonalProductCode: "GENERAL_WITHHOLDING_P", AlipayUserID: "12345"}, "USER_NOT_EXIST_ERROR"},
		{"logon id neither mobile nor email", gateway.AgreementQueryRequest{PersonalProductCode: "GENERAL_WITHHOLDING_P", AlipayLogonID: "nobody"}, "USER_NOT_EXIST_ERROR"},
		{"merchant agreement missing", gateway.AgreementQueryRequest{PersonalProductCode: "GENERAL_WITHHOLDING_P", AlipayUserID: sandbox.AgreementMerchantNotExist}, "MERCHANT_AGREEMENT_IS_NOT_EXIST"},
		{"system error", gateway.AgreementQueryRequest{PersonalProductCode: "GENERAL_WITHHOLDING_P", AlipayUserID: sandbox.AgreementUserSystemError}, "SYSTEM_ERROR"},
		{"product not supported", gateway.AgreementQueryRequest{PersonalProductCode: "NO_SUCH_PRODUCT_P", AlipayUserID: "2088101122675263"}, "PRODUCT_CODE_NOT_SUPPORTED_ERROR"},
	} {
		_, err := q(tc.req)
		if gateway.KindOf(err) != failure || gateway.SubCodeOf(err) != tc.sub {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	r3 := e.do(rawCall{method: gateway.MethodAgreementQuery, biz: `{"alipay_user_id":"2088101122675263"}`})
	if r3.common.SubCode != "INVALID_PARAMETER" {
		t.Errorf("no product code: %s", r3.raw)
	}
}
