package api

// userAPIMessages are English messages for the sub_codes the user methods
// (scene consult, agreement query) answer, so that an API client sees the
// same language for them as for payments (the checkout engine's messages).
// The gateway's own sub_msg, often Chinese, travels beside it in the
// error's sub_msg field.
var userAPIMessages = map[string]string{
	"USER_NOT_EXIST_ERROR":             "Alipay has no such user.",
	"INVALID_PARAMETER":                "Alipay refused a parameter of the request.",
	"MERCHANT_AGREEMENT_IS_NOT_EXIST":  "The merchant has no agreement for this product with Alipay.",
	"PRODUCT_CODE_NOT_SUPPORTED_ERROR": "Alipay does not support this product code.",
	"AGREEMENT_NOT_EXIST":              "The user has no such agreement.",
	"SYSTEM_ERROR":                     "Alipay had a system error; try again later.",
	"ISP.SYSTEM_ERROR":                 "Alipay had a system error; try again later.",
	"aop.ACQ.SYSTEM_ERROR":             "Alipay had a system error; try again later.",
	"SCENE_NOT_EXIST":                  "Alipay does not know this marketing scene.",
	"isv.insufficient-isv-permissions": "The app is not allowed to call this method; check its permissions in the Alipay console.",
	"isv.invalid-app-id":               "Alipay does not know the app_id; check [alipay] app_id.",
	"isv.invalid-signature":            "Alipay could not verify the signature; check the app's private key and the key uploaded in the Alipay console.",
	"isv.app-unbind-partner":           "The app is not bound to this merchant; check the app_id and app_auth_token.",
}

// userAPIMessage is the English message for a gateway refusal with
// subCode; an unknown sub_code gets a general one naming it.
func userAPIMessage(subCode, fallback string) string {
	if m, ok := userAPIMessages[subCode]; ok {
		return m
	}
	if subCode == "" {
		return fallback + "."
	}
	return fallback + " (" + subCode + "); the gateway's own words are in sub_msg."
}
