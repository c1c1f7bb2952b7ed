// Package sandbox is posagent's local stand-in for the Alipay OpenAPI gateway
// (https://openapi.alipay.com/gateway.do): a faithful, signature-checking
// simulator of the methods posagent calls (payments, refunds and the bill
// download of SPEC §11–12), so a store can try posagent
// and its register integration with no Alipay account.
//
// It owns its two RSA key pairs (generated once into a folder), the request
// protocol (parameters from the query string and/or the form body, utf-8 or
// GBK, RSA2/RSA request signatures checked with the app public key, the
// gateway's common error codes), signed replies laid out exactly as the real
// gateway lays them out, an in-memory ledger of trades, payment codes,
// decodes, awards and refunds with the real business rules (see SPEC §3,
// §11), daily trade bills in Alipay's layout built from it (§12), documented
// test codes that trigger each business outcome (TESTCODES.md), and fault
// injection (latency, replies dropped after the commit, 20000, bad reply
// signatures, unsigned error replies, `\/`-escaped replies). It can also play
// a certificate-mode gateway (Config.CertMode: a root bundle, app and gateway
// certificates, SNs checked, the gateway certificate rotated and served by
// alipay.open.app.alipaycert.download), an OpenID app (Config.OpenID) and a
// service provider's merchant (Config.AppAuthToken, 20001 without it).
//
// Nothing is kept on disk but the keys: the ledger lives in memory, grows
// with use, and is empty again after a restart. It is a test and demo tool;
// it never moves money.
//
// Routes of Handler:
//
//	POST|GET /gateway.do     the OpenAPI gateway
//	GET      /sandbox/trades the ledger as a JSON array of Trade
//	GET|POST /sandbox/faults read or replace the Faults (JSON)
//	GET      /sandbox/bills/{date}  the zipped trade bill of a day (YYYY-MM-DD)
//	GET|POST|DELETE /sandbox/bill-rows  bill rows added or altered (BillRow)
//	POST     /sandbox/rotate-cert  a new gateway certificate (certificate mode)
package sandbox
