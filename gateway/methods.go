package gateway

// The methods posagent calls.
const (
	MethodTwoStageUse          = "alipay.user.twostage.common.use"
	MethodTradePay             = "alipay.trade.pay"
	MethodTradeQuery           = "alipay.trade.query"
	MethodTradeCancel          = "alipay.trade.cancel"
	MethodSceneConsult         = "alipay.user.scene.cooperation.consult"
	MethodInviteAward          = "alipay.user.invite.award.receive"
	MethodAgreementQuery       = "alipay.user.agreement.batch.query"
	MethodTradeRefund          = "alipay.trade.refund"
	MethodTradeRefundQuery     = "alipay.trade.fastpay.refund.query"
	MethodBillDownloadURLQuery = "alipay.data.dataservice.bill.downloadurl.query"
	MethodAlipayCertDownload   = "alipay.open.app.alipaycert.download"
	DynamicTokenOutBizNoKey    = "DYNAMIC_TOKEN_OUT_BIZ_NO"
)

// Methods lists every method above, in the order of the docs.
var Methods = []string{
	MethodTwoStageUse, MethodTradePay, MethodTradeQuery, MethodTradeCancel,
	MethodSceneConsult, MethodInviteAward, MethodAgreementQuery,
	MethodTradeRefund, MethodTradeRefundQuery, MethodBillDownloadURLQuery,
	MethodAlipayCertDownload,
}
