// Package checkout owns the checkout state machine of posagent: one order
// charged from a scanned Alipay payment code, through the two-stage decode
// (alipay.user.twostage.common.use), the merchant's local coupons and
// alipay.trade.pay, to a final state, journaled in bbolt so that no crash,
// power cut or network failure loses or doubles money.
//
// Every transition is one bbolt transaction, and whatever a network call
// depends on (the sence_no, the out_trade_no, the amount, the coupon
// reservation, the intent to pay or to cancel) is committed before the call
// is made. On the happy path a checkout costs three commits: the decode
// intent (scan accepted, state decoding), the pay intent (state paying) and
// the result (paid). Payment codes live only in memory; the store keeps an
// HMAC of each code, never the code.
//
// Trades whose outcome is still unknown at the decision deadline are handed
// to a durable trade_cancel job of package queue, which runs until the
// gateway answers. The engine registers that handler itself.
package checkout
