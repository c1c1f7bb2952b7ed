// Package gateway is posagent's client for the Alipay OpenAPI 2.0 gateway
// (form POST to gateway.do). It owns request signing (RSA2/RSA), reply
// verification over the exact bytes the gateway signed, typed and validated
// calls for the methods posagent uses (payments, refunds, the bill download
// URL), the one result classification
// that callers branch on (see Kind), and money as fixed-point fen (Amount).
// It speaks both key modes: public key, and certificate mode (CertChain,
// RootBundle; SNs as the official SDKs compute them), fetching and checking
// a rotated gateway certificate; Health tells a wrong key or certificate
// apart from an unreachable gateway.
//
// Nothing here keeps state on disk but fetched gateway certificates
// (Client.CertDir); callers that must survive a crash commit
// what a call depends on before they make it.
package gateway
