//go:build linux

package e2e_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway/sandbox"
	"posagent/tests/internal/testenv"
)

// evenUserCode returns a fresh payment code whose buyer's user_id ends in
// an even digit (the sandbox's consult then answers true).
func evenUserCode() string {
	for {
		c := testenv.Code()
		if (c[len(c)-1]-'0')%2 == 0 {
			return c
		}
	}
}

// TestUserAPIs: the marketing calls the register's back office makes
// through posagent (consult, award, agreements), with the sandbox's
// documented answers (TESTCODES.md), and the consult recorded on a
// checkout when [marketing] consult_scene is set.
func TestUserAPIs(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{ConsultScene: "SCENE_E2E"})
	env.Start(t)
	cl := env.Client(t)
	ctx := context.Background()

	t.Run("consult", func(t *testing.T) {
		for _, tc := range []struct {
			req  api.ConsultRequest
			want bool
		}{
			{api.ConsultRequest{UserID: "2088000000000002"}, true},
			{api.ConsultRequest{UserID: "2088000000000003", Scene: "OTHER_SCENE"}, false},
			{api.ConsultRequest{Mobile: "13800000004"}, true},
		} {
			got, err := cl.Consult(ctx, tc.req)
			if err != nil || got.ConsultResult != tc.want {
				t.Errorf("consult %+v: %+v %v, want consult_result %v", tc.req, got, err, tc.want)
			}
		}
		_, err := cl.Consult(ctx, api.ConsultRequest{UserID: "2088000000000002", Scene: "SANDBOX_SYSTEM_ERROR"})
		if apiStatus(err) != http.StatusUnprocessableEntity || apiCode(err) != "SYSTEM_ERROR" {
			t.Errorf("consult with a gateway SYSTEM_ERROR: %v, want 422 SYSTEM_ERROR", err)
		}
		_, err = cl.Consult(ctx, api.ConsultRequest{Scene: "SCENE_E2E"})
		if apiStatus(err) != http.StatusBadRequest {
			t.Errorf("consult with no user: %v, want 400", err)
		}
	})

	t.Run("award", func(t *testing.T) {
		first, err := cl.Award(ctx, api.AwardRequest{UserID: "2088000000000011", OutBizNo: "AW1"})
		if err != nil || first.Result == nil || first.Result.BizResultCode != "NEW_AWARD_SUCESS" {
			t.Fatalf("first award to a new user: %+v %v, want NEW_AWARD_SUCESS", first, err)
		}
		// The back office retries (its request timed out): the same answer,
		// nothing awarded twice.
		again, err := cl.Award(ctx, api.AwardRequest{UserID: "2088000000000011", OutBizNo: "AW1"})
		if err != nil || again.Result == nil || again.Result.BizResultCode != "NEW_AWARD_SUCESS" {
			t.Errorf("retried award: %+v %v, want the first answer again", again, err)
		}
		second, err := cl.Award(ctx, api.AwardRequest{UserID: "2088000000000011", OutBizNo: "AW2"})
		if err != nil || second.Result == nil || second.Result.BizResultCode != "NEW_ALREADY_AWARD" {
			t.Errorf("second award to the user: %+v %v, want NEW_ALREADY_AWARD", second, err)
		}
		closed, err := cl.Award(ctx, api.AwardRequest{Mobile: "19900000001", OutBizNo: "AW3"})
		if err != nil || closed.Result == nil || closed.Result.BizResultCode != "ACTIVITY_CLOSE" {
			t.Errorf("award in a closed activity: %+v %v, want ACTIVITY_CLOSE", closed, err)
		}
		_, err = cl.Award(ctx, api.AwardRequest{UserID: "2088000000000013", OutBizNo: "AW1"})
		if apiStatus(err) != http.StatusConflict {
			t.Errorf("out_biz_no reused for another user: %v, want 409", err)
		}
	})

	t.Run("agreements", func(t *testing.T) {
		ags, err := cl.Agreements(ctx, "2088000000000021", api.AgreementsQuery{PersonalProductCode: "GENERAL_WITHHOLDING_P", SignScene: "INDUSTRY|CARRENTAL"})
		if err != nil || len(ags) != 1 || ags[0].Status != "NORMAL" || ags[0].SignScene != "INDUSTRY|CARRENTAL" {
			t.Errorf("agreements: %+v %v, want one NORMAL agreement in the asked scene", ags, err)
		}
		_, err = cl.Agreements(ctx, "2088999999990002", api.AgreementsQuery{PersonalProductCode: "GENERAL_WITHHOLDING_P"})
		if apiStatus(err) != http.StatusUnprocessableEntity || apiCode(err) != "MERCHANT_AGREEMENT_IS_NOT_EXIST" {
			t.Errorf("agreements of a user without one: %v, want 422 MERCHANT_AGREEMENT_IS_NOT_EXIST", err)
		}
		_, err = cl.Agreements(ctx, "2088000000000021", api.AgreementsQuery{PersonalProductCode: "NOT_A_PRODUCT"})
		if apiCode(err) != "PRODUCT_CODE_NOT_SUPPORTED_ERROR" {
			t.Errorf("agreements for an unknown product: %v, want PRODUCT_CODE_NOT_SUPPORTED_ERROR", err)
		}
		_, err = cl.Agreements(ctx, "2088000000000021", api.AgreementsQuery{})
		if apiStatus(err) != http.StatusBadRequest {
			t.Errorf("agreements without personal_product_code: %v, want 400", err)
		}
	})

	t.Run("consult on checkout", func(t *testing.T) {
		testenv.WaitScannerOpen(t, cl, 5*time.Second)
		co := create(t, cl, "U7001", "30.00")
		code := evenUserCode()
		env.Scanner.Scan(t, code)
		paid := testenv.WaitFinal(t, cl, co.ID, finalWait)
		mustPaid(t, env.Sandbox, paid, code, "30.00")
		// The consult never delays payment; its answer may land just after.
		c := testenv.WaitFor(t, cl, co.ID, 5*time.Second, "with consult_result", func(c checkout.Checkout) bool {
			return c.ConsultResult != nil
		})
		if !*c.ConsultResult {
			t.Errorf("consult_result of %s = false, want true (even user_id)", sandbox.UserIDOf(code))
		}
	})
}
