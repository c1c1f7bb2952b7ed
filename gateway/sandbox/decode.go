package sandbox

import (
	"encoding/json"
	"time"

	"posagent/gateway"
)

// Sub-codes of alipay.user.twostage.common.use.
const (
	subInputIllegal  = "INPUT_ILLEGAL"
	subIllegalCode   = "ILLEGAL_CODE"
	subCodeExpired   = "CODE_EXPIRED"
	subSenceUnMatch  = "SENCENO_UN_MATCH"
	subUserUnAuth    = "USER_UN_AUTH"
	subIndexNotExist = "INDEX_NOT_EXIST"
	subDecodeFailed  = "DECODE_FAILED"
	subSystemError   = "SYSTEM_ERROR"
	msgSystemBusy    = "系统繁忙"
	msgInputIllegal  = "含有非法参数"
	msgSenceUnMatch  = "重复解码请求，与第一次解码传递的sence_no不匹配"
	msgDecodeFailed  = "业务异常解码失败"
	msgIndexNotExist = "无法获取用户信息"
	msgIllegalCode   = "非法码值"
	msgCodeExpired   = "码已过期"
	msgUserUnAuth    = "用户未对该商户授权"
)

// twoStageUse answers alipay.user.twostage.common.use: it decodes a payment
// code into its buyer's user_id ("2088" + the code's last 12 digits).
//
// The first decode of a code binds its sence_no to it: decoding the code
// again needs the same sence_no, a sence_no never serves a second code
// (both SENCENO_UN_MATCH), and trade.pay with the code must carry it as
// extend_params.DYNAMIC_TOKEN_OUT_BIZ_NO. The binding is made by every
// decode that gets past the input checks, also one that then fails
// (USER_UN_AUTH, SYSTEM_ERROR, ...): the gateway has seen the request.
func (s *Sandbox) twoStageUse(req *request, now time.Time) any {
	var in gateway.TwoStageUseRequest
	if err := json.Unmarshal(req.biz, &in); err != nil {
		return fail(subInputIllegal, msgInputIllegal)
	}
	if in.DynamicID != "" && !gateway.IsPaymentCode(in.DynamicID) {
		return fail(subIllegalCode, msgIllegalCode)
	}
	if err := in.Validate(); err != nil {
		return fail(subInputIllegal, msgInputIllegal+": "+err.Error())
	}
	if in.PayPID != s.cfg.PayPID {
		return fail(subInputIllegal, msgInputIllegal+": pay_pid")
	}
	tc := testCodeOf(in.DynamicID)
	if tc.sc == scIllegalCode {
		return fail(subIllegalCode, msgIllegalCode)
	}

	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	cs := l.code(in.DynamicID, now)
	if cs.senceNo != "" && cs.senceNo != in.SenceNo {
		return fail(subSenceUnMatch, msgSenceUnMatch)
	}
	if other, ok := l.sences[in.SenceNo]; ok && other != in.DynamicID {
		return fail(subSenceUnMatch, msgSenceUnMatch)
	}
	cs.senceNo = in.SenceNo
	l.sences[in.SenceNo] = in.DynamicID

	if tc.sc == scCodeExpired || now.Sub(cs.firstSeen) > s.cfg.CodeTTL {
		return fail(subCodeExpired, msgCodeExpired)
	}
	switch tc.sc {
	case scUserUnAuth:
		return fail(subUserUnAuth, msgUserUnAuth)
	case scIndexNotExist:
		return fail(subIndexNotExist, msgIndexNotExist)
	case scDecodeFailed:
		return fail(subDecodeFailed, msgDecodeFailed)
	case scDecodeSystemError:
		return fail(subSystemError, msgSystemBusy)
	case scDecodeUnknown:
		return errSystemBusy
	}
	return gateway.TwoStageUseResponse{Common: success, UserID: userIDOf(in.DynamicID)}
}
