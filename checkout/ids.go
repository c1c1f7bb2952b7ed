package checkout

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"time"

	"posagent/gateway"
)

// Identifiers: checkout ids sort by creation (a per-database sequence) and
// carry a random tail so that an id from a wiped database never names a new
// checkout; out_trade_no and sence_no are terminal id + Shanghai time to the
// millisecond + randomness, so they stay unique across terminals, restarts
// and clock steps.

const idAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ" // Crockford base32

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+).
		panic(fmt.Sprintf("checkout: crypto/rand: %v", err))
	}
	for i := range b {
		b[i] = idAlphabet[b[i]&31]
	}
	return string(b)
}

// newID makes a checkout id from the records bucket's sequence number.
// cursorRE matches a paging cursor: a checkout id as newID makes it, or
// any "co_" string that sorts among them ("co_~" is after every id).
var cursorRE = regexp.MustCompile(`^co_[0-9A-Za-z_~]*$`)

func newID(seq uint64) string {
	return fmt.Sprintf("co_%012d_%s", seq, randomToken(4))
}

func stamp(now time.Time) string {
	t := now.In(gateway.Shanghai)
	return t.Format("20060102150405") + fmt.Sprintf("%03d", t.Nanosecond()/1e6)
}

// newOutTradeNo: ≤ 16+1+17+1+10 = 45 characters of [A-Za-z0-9_].
func newOutTradeNo(terminalID string, now time.Time) string {
	return terminalID + "_" + stamp(now) + "_" + randomToken(10)
}

// newSenceNo: ≤ 16+2+17+1+12 = 48 characters of [A-Za-z0-9_].
func newSenceNo(terminalID string, now time.Time) string {
	return terminalID + "_S" + stamp(now) + "_" + randomToken(12)
}
