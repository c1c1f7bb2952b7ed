package gateway

import "context"

// AwardRequest is the biz_content of alipay.user.invite.award.receive.
type AwardRequest struct {
	// Mobile or UserID (one required; user_id wins), ≤16 each.
	Mobile string `json:"mobile,omitempty"`
	UserID string `json:"user_id,omitempty"`
	// OutBizCode is the caller's business code, ≤16.
	OutBizCode string `json:"out_biz_code,omitempty"`
	// OutBizNo is the caller's number for this award, ≤128. posagent always
	// sets it: it is the idempotency key of a queued award.
	OutBizNo string `json:"out_biz_no,omitempty"`
}

// Validate checks the request as the API documents it.
func (r *AwardRequest) Validate() error {
	var c checker
	c.oneOf("mobile|user_id", r.Mobile, r.UserID)
	c.str("mobile", r.Mobile, false, 16)
	c.str("user_id", r.UserID, false, 16)
	// The gateway refuses anything but digits with INVALID_PARAMETER, and
	// a queued award would only fail later: say so before it is queued.
	if r.Mobile != "" && !allDigits(r.Mobile) {
		c.fail("mobile", "only digits are allowed")
	}
	if r.UserID != "" && !allDigits(r.UserID) {
		c.fail("user_id", "only digits are allowed")
	}
	c.str("out_biz_code", r.OutBizCode, false, 16)
	c.str("out_biz_no", r.OutBizNo, false, 128)
	return c.result()
}

// Award business result codes.
const (
	AwardNewAlready    = "NEW_ALREADY_AWARD"
	AwardNewSuccess    = "NEW_AWARD_SUCESS" // sic, as the gateway spells it
	AwardOldSuccess    = "OLD_AWARD_SUCCESS"
	AwardOldOverLimit  = "OLD_AWARD_OVER_LIMIT"
	AwardActivityClose = "ACTIVITY_CLOSE"
	AwardActivityPause = "ACTIVITY_PAUSE"
)

// AwardResponse is the result of an award.
type AwardResponse struct {
	Common
	BizResultCode   string `json:"biz_result_code,omitempty"`
	BizResultDesc   string `json:"biz_result_desc,omitempty"`
	Mobile          string `json:"mobile,omitempty"`
	AlipayAccountNo string `json:"alipay_account_no,omitempty"`
	UserAttr        string `json:"user_attr,omitempty"`
	ExtInfo         string `json:"ext_info,omitempty"`
}

// InviteAward calls alipay.user.invite.award.receive. Business failures:
// INVALID_PARAMETER, SYSTEM_ERROR.
func (c *Client) InviteAward(ctx context.Context, req AwardRequest) (*AwardResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, &Error{Method: MethodInviteAward, Kind: Invalid, Err: err}
	}
	var resp AwardResponse
	err := c.call(ctx, MethodInviteAward, &req, &resp)
	return &resp, err
}
