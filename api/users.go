package api

import (
	"context"
	"net/http"

	"posagent/gateway"
)

// ConsultRequest is the body of POST /v1/consult: exactly one of UserID,
// Mobile and Email, and the scene (default [marketing] consult_scene).
type ConsultRequest struct {
	// UserID is the Alipay user id (2088…), at most 20 characters.
	UserID string `json:"user_id,omitempty"`
	// Mobile is the user's mobile number, at most 20 characters.
	Mobile string `json:"mobile,omitempty"`
	// Email is the user's email address, at most 200 characters.
	Email string `json:"email,omitempty"`
	// Scene is the merchant's marketing scene, at most 50 characters.
	// Default [marketing] consult_scene.
	Scene string `json:"scene,omitempty"`
	// InviteScene is sent as invite_scene; optional, at most 32 characters.
	InviteScene string `json:"invite_scene,omitempty"`
}

// ConsultReply is the answer of POST /v1/consult.
type ConsultReply struct {
	// ConsultResult: the user is of value in the scene.
	ConsultResult bool `json:"consult_result"`
	// InviteResult is the gateway's invite_result ("true"/"false"), or null
	// when it gave none.
	InviteResult *string `json:"invite_result"`
	// Scene is the scene asked about.
	Scene string `json:"scene"`
}

func (s *Server) consult(w http.ResponseWriter, r *http.Request) {
	var b ConsultRequest
	if e := decodeBody(w, r, &b); e != nil {
		writeError(w, e)
		return
	}
	if e := oneOf("user_id|mobile|email", b.UserID, b.Mobile, b.Email); e != nil {
		writeError(w, e)
		return
	}
	if b.Scene == "" {
		b.Scene = s.cfg.ConsultScene
	}
	if b.Scene == "" {
		writeError(w, errorf(http.StatusBadRequest, "SCENE_REQUIRED", "scene is required: no [marketing] consult_scene is configured"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.GatewayTimeout)
	defer cancel()
	resp, err := s.cfg.Users.SceneConsult(ctx, gateway.ConsultRequest{
		Principal:   gateway.UserPrincipal{UserID: b.UserID, Mobile: b.Mobile, Email: b.Email},
		Scene:       b.Scene,
		InviteScene: b.InviteScene,
	})
	if err != nil {
		writeError(w, gatewayError(err))
		return
	}
	out := ConsultReply{ConsultResult: resp.ConsultResult, Scene: b.Scene}
	if resp.InviteResult != "" {
		v := resp.InviteResult
		out.InviteResult = &v
	}
	writeJSON(w, http.StatusOK, out)
}

// AgreementsQuery narrows GET /v1/users/{user_id}/agreements; its fields
// are the query parameters of the same names.
type AgreementsQuery struct {
	// PersonalProductCode is required (GENERAL_WITHHOLDING_P, …).
	PersonalProductCode string
	SignScene           string
	// ThirdPartyType is PARTNER or MERCHANT, or empty.
	ThirdPartyType string
	ProductCode    string
}

func (s *Server) agreements(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := gateway.AgreementQueryRequest{
		AlipayUserID:        r.PathValue("user_id"),
		PersonalProductCode: q.Get("personal_product_code"),
		SignScene:           q.Get("sign_scene"),
		ThirdPartyType:      q.Get("third_party_type"),
		ProductCode:         q.Get("product_code"),
	}
	if e := requireField("personal_product_code", req.PersonalProductCode); e != nil {
		writeError(w, e)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.GatewayTimeout)
	defer cancel()
	resp, err := s.cfg.Users.AgreementQuery(ctx, req)
	if err != nil {
		writeError(w, gatewayError(err))
		return
	}
	writeItems(w, resp.UsageAgreementInfoList)
}
