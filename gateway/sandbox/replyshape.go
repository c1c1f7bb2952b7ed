package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	"posagent/gateway"
)

// isErrorReply reports whether a handler's reply carries an error (any
// code but 10000 and 10003).
func isErrorReply(resp any) bool {
	code, _ := replyCodes(resp)
	return code != codeSuccess && code != codeInProgress
}

// stripSign returns a reply body without its "sign" member, as a gateway
// sends an error it does not sign.
func stripSign(body []byte) []byte {
	const marker = `,"sign":"`
	i := bytes.LastIndex(body, []byte(marker))
	if i < 0 {
		return body
	}
	end := bytes.IndexByte(body[i+len(marker):], '"')
	if end < 0 {
		return body
	}
	out := append([]byte{}, body[:i]...)
	return append(out, body[i+len(marker)+end+1:]...)
}

// escapeSlashes writes every '/' of the reply (outside the base64
// signature, which the signature does not cover) as `\/`, which JSON
// allows and some gateways send; the signature stays over the unescaped
// bytes.
func escapeSlashes(body []byte) []byte {
	const marker = `"sign":"`
	i := bytes.LastIndex(body, []byte(marker))
	if i < 0 {
		i = len(body)
	}
	out := bytes.ReplaceAll(body[:i], []byte("/"), []byte(`\/`))
	return append(out, body[i:]...)
}

// openIDOf is the stable open_id the sandbox gives the buyer userID.
func openIDOf(userID string) string {
	sum := sha256.Sum256([]byte("posagent sandbox open_id " + userID))
	return "074" + hex.EncodeToString(sum[:])[:44]
}

// withOpenID turns a reply's buyer user ids into open ids when the sandbox
// plays an OpenID app (Config.OpenID).
func (s *Sandbox) withOpenID(resp any) any {
	if !s.cfg.OpenID {
		return resp
	}
	switch v := resp.(type) {
	case gateway.TwoStageUseResponse:
		if v.UserID != "" {
			v.OpenID, v.UserID = openIDOf(v.UserID), ""
		}
		return v
	case gateway.TradePayResponse:
		if v.BuyerUserID != "" {
			v.BuyerOpenID, v.BuyerUserID = openIDOf(v.BuyerUserID), ""
		}
		return v
	case gateway.TradeQueryResponse:
		if v.BuyerUserID != "" {
			v.BuyerOpenID, v.BuyerUserID = openIDOf(v.BuyerUserID), ""
		}
		return v
	}
	return resp
}
