package gateway

import "context"

// AgreementQueryRequest is the biz_content of alipay.user.agreement.batch.query.
type AgreementQueryRequest struct {
	// PersonalProductCode is the agreement product. Required, ≤64.
	PersonalProductCode string `json:"personal_product_code"`
	// AlipayUserID (≤32) or AlipayLogonID (≤100): one required; the user id wins.
	AlipayUserID  string `json:"alipay_user_id,omitempty"`
	AlipayLogonID string `json:"alipay_logon_id,omitempty"`
	// SignScene (≤64; empty: all scenes), ThirdPartyType (≤32, PARTNER or
	// MERCHANT) and ProductCode (≤64) narrow the query.
	SignScene      string `json:"sign_scene,omitempty"`
	ThirdPartyType string `json:"third_party_type,omitempty"`
	ProductCode    string `json:"product_code,omitempty"`
}

// Validate checks the request as the API documents it.
func (r *AgreementQueryRequest) Validate() error {
	var c checker
	c.str("personal_product_code", r.PersonalProductCode, true, 64)
	c.oneOf("alipay_user_id|alipay_logon_id", r.AlipayUserID, r.AlipayLogonID)
	c.str("alipay_user_id", r.AlipayUserID, false, 32)
	c.str("alipay_logon_id", r.AlipayLogonID, false, 100)
	c.str("sign_scene", r.SignScene, false, 64)
	c.str("third_party_type", r.ThirdPartyType, false, 32)
	if r.ThirdPartyType != "" && r.ThirdPartyType != "PARTNER" && r.ThirdPartyType != "MERCHANT" {
		c.fail("third_party_type", "must be PARTNER or MERCHANT")
	}
	c.str("product_code", r.ProductCode, false, 64)
	return c.result()
}

// Agreement is one withholding agreement of the user. PricipalType keeps
// the gateway's spelling of "pricipal_type".
type Agreement struct {
	ValidTime           string `json:"valid_time"`
	InvalidTime         string `json:"invalid_time"`
	PricipalType        string `json:"pricipal_type"`
	PrincipalID         string `json:"principal_id"`
	SignScene           string `json:"sign_scene"`
	AgreementNo         string `json:"agreement_no"`
	ThirdPartyType      string `json:"third_party_type"`
	Status              string `json:"status"`
	SignTime            string `json:"sign_time"`
	PersonalProductCode string `json:"personal_product_code"`
}

// AgreementQueryResponse lists the user's agreements.
type AgreementQueryResponse struct {
	Common
	UsageAgreementInfoList []Agreement `json:"usage_agreement_info_list"`
}

// AgreementQuery calls alipay.user.agreement.batch.query. Business failures:
// USER_NOT_EXIST_ERROR, MERCHANT_AGREEMENT_IS_NOT_EXIST,
// PRODUCT_CODE_NOT_SUPPORTED_ERROR, INVALID_PARAMETER, SYSTEM_ERROR.
func (c *Client) AgreementQuery(ctx context.Context, req AgreementQueryRequest) (*AgreementQueryResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, &Error{Method: MethodAgreementQuery, Kind: Invalid, Err: err}
	}
	var resp AgreementQueryResponse
	err := c.call(ctx, MethodAgreementQuery, &req, &resp)
	return &resp, err
}
