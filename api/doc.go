// Package api is posagent's local HTTP API (SPEC §6): the JSON interface
// through which the register software starts and follows checkouts, and
// through which operators (and the operator verbs of the posagent binary)
// look at the queue, import coupons and call Alipay's user APIs.
//
// Server is an http.Handler with exactly the routes of SPEC §6. Every route
// but GET /healthz needs "Authorization: Bearer <token>". Bodies are JSON,
// size-capped, with unknown fields refused; errors are
// {"error":{"code","message"}} with a fitting HTTP status. The server holds
// no checkout or protocol logic: it validates, translates and maps errors,
// and the engines behind the consumer-side interfaces Checkouts, Jobs and
// UserAPIs do the work.
//
// Client is a small Go client of the same API, used by the operator verbs
// and by tests.
package api
