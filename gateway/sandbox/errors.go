package sandbox

import "posagent/gateway"

// The gateway's top-level codes and their msg texts.
const (
	codeSuccess    = "10000"
	codeInProgress = "10003"
	codeUnknown    = "20000"
	codeMissing    = "40001"
	codeInvalid    = "40002"
	codeBusiness   = "40004"

	msgSuccess    = "Success"
	msgInProgress = "order success pay inprocess"
	msgUnknown    = "Service Currently Unavailable"
	msgMissing    = "Missing Required Arguments"
	msgInvalid    = "Invalid Arguments"
	msgBusiness   = "Business Failed"
)

// success is the common part of a 10000 reply.
var success = gateway.Common{Code: codeSuccess, Msg: msgSuccess}

func missing(subCode, subMsg string) gateway.Common {
	return gateway.Common{Code: codeMissing, Msg: msgMissing, SubCode: subCode, SubMsg: subMsg}
}

func invalid(subCode, subMsg string) gateway.Common {
	return gateway.Common{Code: codeInvalid, Msg: msgInvalid, SubCode: subCode, SubMsg: subMsg}
}

// fail is a 40004 business failure.
func fail(subCode, subMsg string) gateway.Common {
	return gateway.Common{Code: codeBusiness, Msg: msgBusiness, SubCode: subCode, SubMsg: subMsg}
}

// unknown is a 20000 reply: the caller cannot tell whether anything happened.
func unknown(subCode, subMsg string) gateway.Common {
	return gateway.Common{Code: codeUnknown, Msg: msgUnknown, SubCode: subCode, SubMsg: subMsg}
}

// The gateway's common errors (公共错误码), as the real gateway words them.
var (
	errMissingMethod     = missing("isv.missing-method", "缺少方法名参数")
	errMissingSignature  = missing("isv.missing-signature", "缺少签名参数")
	errMissingSignType   = missing("isv.missing-signature-type", "缺少签名类型参数")
	errMissingAppID      = missing("isv.missing-app-id", "缺少AppID参数")
	errMissingTimestamp  = missing("isv.missing-timestamp", "缺少时间戳参数")
	errMissingVersion    = missing("isv.missing-version", "缺少版本参数")
	errInvalidMethod     = invalid("isv.invalid-method", "不存在的方法名")
	errInvalidFormat     = invalid("isv.invalid-format", "无效的数据格式")
	errInvalidSignType   = invalid("isv.invalid-signature-type", "无效的签名类型")
	errInvalidAppID      = invalid("isv.invalid-app-id", "无效的AppID参数")
	errInvalidTimestamp  = invalid("isv.invalid-timestamp", "非法的时间戳参数")
	errInvalidCharset    = invalid("isv.invalid-charset", "字符集错误")
	errInvalidParameter  = invalid("isv.invalid-parameter", "参数无效")
	errInvalidBizContent = invalid("isv.invalid-parameter", "biz_content 不是合法的 JSON 对象")
	errSystemBusy        = unknown("isp.unknow-error", "系统繁忙")
	errMissingAppCertSN  = missing("isv.missing-app-cert-sn", "缺少应用公钥证书序列号")
	errInvalidAppCertSN  = invalid("isv.invalid-app-cert-sn", "应用公钥证书序列号不匹配")
	errMissingRootCertSN = missing("isv.missing-alipay-root-cert-sn", "缺少支付宝根证书序列号")
	errInvalidRootCertSN = invalid("isv.invalid-alipay-root-cert-sn", "支付宝根证书序列号不匹配")
	// 20001: a service provider's app_auth_token is missing, wrong or expired.
	errInvalidAppAuthToken = gateway.Common{Code: "20001", Msg: "Insufficient Token Permissions",
		SubCode: "aop.invalid-app-auth-token", SubMsg: "无效的应用授权令牌"}
)

// invalidSignature is isv.invalid-signature with the string the gateway
// verified, as the real gateway reports it, except that biz_content is left
// out (it may hold a payment code, and clients log sub_msg).
func invalidSignature(content string) gateway.Common {
	return invalid("isv.invalid-signature",
		"验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为："+content+"（biz_content 已省略）")
}
