package gateway

import "context"

// ConsultRequest is the biz_content of alipay.user.scene.cooperation.consult.
type ConsultRequest struct {
	// Principal names the user; exactly one of its fields should be set
	// (user_id wins, then mobile, then email).
	Principal UserPrincipal `json:"principal"`
	// Scene is the merchant's scene as configured by Alipay. Required, ≤50.
	Scene string `json:"scene"`
	// InviteScene, PID and PartnerID are optional (≤32, ≤128, ≤128).
	InviteScene string `json:"invite_scene,omitempty"`
	PID         string `json:"pid,omitempty"`
	PartnerID   string `json:"partner_id,omitempty"`
}

// UserPrincipal identifies a user by Alipay user_id, mobile or email.
type UserPrincipal struct {
	UserID string `json:"user_id,omitempty"`
	Mobile string `json:"mobile,omitempty"`
	Email  string `json:"email,omitempty"`
}

// Validate checks the request as the API documents it.
func (r *ConsultRequest) Validate() error {
	var c checker
	c.oneOf("principal.user_id|mobile|email", r.Principal.UserID, r.Principal.Mobile, r.Principal.Email)
	c.str("principal.user_id", r.Principal.UserID, false, 20)
	c.str("principal.mobile", r.Principal.Mobile, false, 20)
	c.str("principal.email", r.Principal.Email, false, 200)
	c.str("scene", r.Scene, true, 50)
	c.str("invite_scene", r.InviteScene, false, 32)
	c.str("pid", r.PID, false, 128)
	c.str("partner_id", r.PartnerID, false, 128)
	return c.result()
}

// ConsultResponse says whether the user is of value in the scene.
type ConsultResponse struct {
	Common
	ConsultResult bool   `json:"consult_result"`
	InviteResult  string `json:"invite_result,omitempty"`
}

// SceneConsult calls alipay.user.scene.cooperation.consult. Business
// failures: INVALID_PARAMETER, SYSTEM_ERROR.
func (c *Client) SceneConsult(ctx context.Context, req ConsultRequest) (*ConsultResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, &Error{Method: MethodSceneConsult, Kind: Invalid, Err: err}
	}
	var resp ConsultResponse
	err := c.call(ctx, MethodSceneConsult, &req, &resp)
	return &resp, err
}
