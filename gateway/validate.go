package gateway

import (
	"regexp"
	"strconv"
	"unicode/utf8"
)

var bizNoRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// checker collects the first validation failure of a request.
type checker struct{ err *ValidationError }

func (c *checker) fail(field, msg string) {
	if c.err == nil {
		c.err = &ValidationError{Field: field, Msg: msg}
	}
}

// str checks a string field: required or not, and at most max characters
// (max 0 means no limit). Lengths are counted in characters, as the API
// documents count them.
func (c *checker) str(field, v string, required bool, max int) {
	if v == "" {
		if required {
			c.fail(field, "required")
		}
		return
	}
	if max > 0 && utf8.RuneCountInString(v) > max {
		c.fail(field, "longer than "+strconv.Itoa(max)+" characters")
	}
}

// bizNo checks an identifier the merchant makes up (out_trade_no, sence_no):
// required, [A-Za-z0-9_], at most max characters.
func (c *checker) bizNo(field, v string, max int) {
	c.str(field, v, true, max)
	if v != "" && !bizNoRE.MatchString(v) {
		c.fail(field, "only letters, digits and '_' are allowed")
	}
}

func (c *checker) oneOf(fields string, vs ...string) {
	for _, v := range vs {
		if v != "" {
			return
		}
	}
	c.fail(fields, "one of them is required")
}

func (c *checker) result() error {
	if c.err == nil {
		return nil
	}
	return c.err
}
