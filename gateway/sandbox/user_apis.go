package sandbox

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"

	"posagent/gateway"
)

// Sub-codes and texts of the user methods.
const (
	subInvalidParam      = "INVALID_PARAMETER"
	subUserNotExist      = "USER_NOT_EXIST_ERROR"
	subMerchantAgreement = "MERCHANT_AGREEMENT_IS_NOT_EXIST"
	subProductCode       = "PRODUCT_CODE_NOT_SUPPORTED_ERROR"

	msgInvalidParam      = "参数有误"
	msgUserNotExist      = "用户信息不存在"
	msgMerchantAgreement = "商户协议不存在"
	msgProductCode       = "无效的产品码"
)

// Test values of the user methods (TESTCODES.md).
const (
	// ConsultSceneSystemError as the consult scene answers SYSTEM_ERROR.
	ConsultSceneSystemError = "SANDBOX_SYSTEM_ERROR"
	// Award test mobiles.
	AwardMobileActivityClose = "19900000001" // 10000, ACTIVITY_CLOSE
	AwardMobileActivityPause = "19900000002" // 10000, ACTIVITY_PAUSE
	AwardMobileOverLimit     = "19900000003" // 10000, OLD_AWARD_OVER_LIMIT
	AwardMobileSystemError   = "19900000004" // 40004 SYSTEM_ERROR
	// Agreement test user_ids.
	AgreementUserNotExist      = "2088999999990001" // USER_NOT_EXIST_ERROR
	AgreementMerchantNotExist  = "2088999999990002" // MERCHANT_AGREEMENT_IS_NOT_EXIST
	AgreementUserSystemError   = "2088999999990003" // SYSTEM_ERROR
	AgreementUserNoAgreements  = "2088999999990004" // 10000 with an empty list
	oldUserAwardLimit          = 3
	agreementSignTime          = "2024-05-24 15:00:40"
	agreementInvalidTime       = "2124-05-24 00:00:00"
	defaultAgreementSignScene  = "INDUSTRY|DIGITAL_MEDIA"
	defaultAgreementThirdParty = "PARTNER"
)

// supportedProducts are the personal_product_codes this merchant has signed.
var supportedProducts = map[string]bool{"GENERAL_WITHHOLDING_P": true, "CYCLE_PAY_AUTH_P": true}

var (
	mobileRE = regexp.MustCompile(`^1\d{10}$`)
	userIDRE = regexp.MustCompile(`^2088\d{12}$`)
)

// lastDigitEven reports whether the last character of s is an even digit.
func lastDigitEven(s string) bool {
	if s == "" {
		return false
	}
	c := s[len(s)-1]
	return c >= '0' && c <= '9' && (c-'0')%2 == 0
}

// sceneConsult answers alipay.user.scene.cooperation.consult. The result is
// deterministic: true when the principal's user_id (or, without one, its
// mobile) ends in an even digit; for an email, when a hash of it is even.
// invite_result is "true" when invite_scene is set and consult_result is.
func (s *Sandbox) sceneConsult(req *request, _ time.Time) any {
	var in gateway.ConsultRequest
	if err := parseBiz(req.biz, &in); err != nil {
		return fail(subInvalidParam, msgInvalidParam+": "+err.Error())
	}
	if in.Scene == ConsultSceneSystemError {
		return fail(subSystemError, msgSystemBusy)
	}
	var ok bool
	switch p := in.Principal; {
	case p.UserID != "":
		ok = lastDigitEven(p.UserID)
	case p.Mobile != "":
		ok = lastDigitEven(p.Mobile)
	default:
		h := fnv.New32a()
		h.Write([]byte(strings.ToLower(p.Email)))
		ok = h.Sum32()%2 == 0
	}
	invite := "false"
	if ok && in.InviteScene != "" {
		invite = "true"
	}
	return gateway.ConsultResponse{Common: success, ConsultResult: ok, InviteResult: invite}
}

// inviteAward answers alipay.user.invite.award.receive. The user is the
// user_id when given, else the mobile; users whose id/mobile ends in an odd
// digit are NEW (one award, then NEW_ALREADY_AWARD), even ones OLD (three
// awards, then OLD_AWARD_OVER_LIMIT). An out_biz_no seen before answers its
// first result again and never awards twice. Test mobiles force the other
// outcomes.
func (s *Sandbox) inviteAward(req *request, _ time.Time) any {
	var in gateway.AwardRequest
	if err := parseBiz(req.biz, &in); err != nil {
		return fail(subInvalidParam, msgInvalidParam+": "+err.Error())
	}
	if in.Mobile != "" && !mobileRE.MatchString(in.Mobile) {
		return fail(subInvalidParam, msgInvalidParam+": 手机号格式不正确")
	}
	if in.UserID != "" && !userIDRE.MatchString(in.UserID) {
		return fail(subInvalidParam, msgInvalidParam+": user_id")
	}
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	if a := l.awards[in.OutBizNo]; in.OutBizNo != "" && a != nil {
		return a.resp
	}
	user := in.UserID
	if user == "" {
		user = in.Mobile
	}
	r := gateway.AwardResponse{Common: success, Mobile: in.Mobile, UserAttr: "NEW"}
	old := func() {
		r.UserAttr = "OLD"
		if in.Mobile != "" {
			r.AlipayAccountNo = in.Mobile[:3] + "****" + in.Mobile[7:]
		}
	}
	if lastDigitEven(user) {
		old()
	}
	switch {
	case in.UserID == "" && in.Mobile == AwardMobileSystemError:
		return fail(subSystemError, msgSystemBusy)
	case in.UserID == "" && in.Mobile == AwardMobileActivityClose:
		r.BizResultCode, r.BizResultDesc = gateway.AwardActivityClose, "活动已结束"
	case in.UserID == "" && in.Mobile == AwardMobileActivityPause:
		r.BizResultCode, r.BizResultDesc = gateway.AwardActivityPause, "活动临时暂停"
	case in.UserID == "" && in.Mobile == AwardMobileOverLimit:
		old()
		r.BizResultCode, r.BizResultDesc = gateway.AwardOldOverLimit, "老用户凭证发放次数超过上限"
	case r.UserAttr == "NEW" && l.granted[user] > 0:
		r.BizResultCode, r.BizResultDesc = gateway.AwardNewAlready, "新用户凭证已发放"
	case r.UserAttr == "NEW":
		r.BizResultCode, r.BizResultDesc = gateway.AwardNewSuccess, "新用户凭证发放成功"
		l.granted[user]++
	case l.granted[user] >= oldUserAwardLimit:
		r.BizResultCode, r.BizResultDesc = gateway.AwardOldOverLimit, "老用户凭证发放次数超过上限"
	default:
		r.BizResultCode, r.BizResultDesc = gateway.AwardOldSuccess, "老用户凭证成功"
		l.granted[user]++
	}
	if in.OutBizNo != "" {
		l.awards[in.OutBizNo] = &award{resp: r}
	}
	return r
}

// agreementQuery answers alipay.user.agreement.batch.query. Every
// well-formed user_id (2088 + 12 digits), mobile or email logon id is a
// known user with one NORMAL agreement per product, deterministic in the
// user, product and scene; test user_ids force the failures. Products other
// than GENERAL_WITHHOLDING_P and CYCLE_PAY_AUTH_P are
// PRODUCT_CODE_NOT_SUPPORTED_ERROR.
func (s *Sandbox) agreementQuery(req *request, _ time.Time) any {
	var in gateway.AgreementQueryRequest
	if err := parseBiz(req.biz, &in); err != nil {
		return fail(subInvalidParam, msgInvalidParam+": "+err.Error())
	}
	if !supportedProducts[in.PersonalProductCode] {
		return fail(subProductCode, msgProductCode)
	}
	user := in.AlipayUserID
	if user == "" {
		if !mobileRE.MatchString(in.AlipayLogonID) && !strings.Contains(in.AlipayLogonID, "@") {
			return fail(subUserNotExist, msgUserNotExist)
		}
		user = fmt.Sprintf("2088%012d", hash64(strings.ToLower(in.AlipayLogonID))%1e12)
	}
	switch {
	case !userIDRE.MatchString(user), user == AgreementUserNotExist:
		return fail(subUserNotExist, msgUserNotExist)
	case user == AgreementMerchantNotExist:
		return fail(subMerchantAgreement, msgMerchantAgreement)
	case user == AgreementUserSystemError:
		return fail(subSystemError, msgSystemBusy)
	case user == AgreementUserNoAgreements:
		return gateway.AgreementQueryResponse{Common: success, UsageAgreementInfoList: []gateway.Agreement{}}
	}
	scene := in.SignScene
	if scene == "" {
		scene = defaultAgreementSignScene
	}
	third := in.ThirdPartyType
	if third == "" {
		third = defaultAgreementThirdParty
	}
	a := gateway.Agreement{
		ValidTime:           agreementSignTime,
		InvalidTime:         agreementInvalidTime,
		PricipalType:        "CARD",
		PrincipalID:         user,
		SignScene:           scene,
		AgreementNo:         fmt.Sprintf("2024%016d", hash64(user+"|"+in.PersonalProductCode+"|"+scene)%1e16),
		ThirdPartyType:      third,
		Status:              "NORMAL",
		SignTime:            agreementSignTime,
		PersonalProductCode: in.PersonalProductCode,
	}
	return gateway.AgreementQueryResponse{Common: success, UsageAgreementInfoList: []gateway.Agreement{a}}
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
