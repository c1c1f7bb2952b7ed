package gateway

import "context"

// TwoStageUseRequest is the biz_content of alipay.user.twostage.common.use:
// decode a payment code into the buyer's user_id.
type TwoStageUseRequest struct {
	// DynamicID is the scanned payment code. Required, an Alipay payment code.
	DynamicID string `json:"dynamic_id"`
	// SenceNo identifies this decode: the same code must be decoded again
	// with the same sence_no, and trade.pay must carry it as
	// extend_params.DYNAMIC_TOKEN_OUT_BIZ_NO. Required, ≤128 of [A-Za-z0-9_].
	SenceNo string `json:"sence_no"`
	// PayPID is the merchant's PID for two-stage payment. Required, ≤32.
	PayPID string `json:"pay_pid"`
}

// Validate checks the request as the API documents it.
func (r *TwoStageUseRequest) Validate() error {
	var c checker
	c.str("dynamic_id", r.DynamicID, true, 32)
	if r.DynamicID != "" && !IsPaymentCode(r.DynamicID) {
		c.fail("dynamic_id", "not an Alipay payment code")
	}
	c.bizNo("sence_no", r.SenceNo, 128)
	c.str("pay_pid", r.PayPID, true, 32)
	return c.result()
}

// TwoStageUseResponse is the decoded buyer.
type TwoStageUseResponse struct {
	Common
	UserID string `json:"user_id,omitempty"`
	// OpenID is the buyer of an OpenID app (created since 2023), which
	// gets open_id instead of (or beside) user_id.
	OpenID           string            `json:"open_id,omitempty"`
	UserIdentityInfo *UserIdentityInfo `json:"user_identity_info,omitempty"`
}

// UserIdentityInfo is identity read from the code (campus codes only).
type UserIdentityInfo struct {
	HSchoolInfo *HSchoolInfo `json:"h_school_info,omitempty"`
}

// HSchoolInfo identifies a student by school and campus number.
type HSchoolInfo struct {
	SchoolStdCode string `json:"school_std_code"`
	CampusNo      string `json:"campus_no"`
}

// TwoStageUse calls alipay.user.twostage.common.use. Business failures come
// back as Failure with sub_code CODE_EXPIRED, ILLEGAL_CODE, USER_UN_AUTH,
// INDEX_NOT_EXIST, SENCENO_UN_MATCH, INPUT_ILLEGAL, DECODE_FAILED or
// SYSTEM_ERROR.
func (c *Client) TwoStageUse(ctx context.Context, req TwoStageUseRequest) (*TwoStageUseResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, &Error{Method: MethodTwoStageUse, Kind: Invalid, Err: err}
	}
	var resp TwoStageUseResponse
	err := c.call(ctx, MethodTwoStageUse, &req, &resp)
	return &resp, err
}
