package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"posagent/gateway"
)

// parseAmount reads a money field of a request body: a JSON string with at
// most two decimals ("25", "25.5", "25.00"), at most 100,000,000.00, and
// above zero unless allowZero. Absent or null is an error when required and
// (0, false, nil) otherwise. A JSON number is refused: money never passes
// through a float.
func parseAmount(field string, raw json.RawMessage, required, allowZero bool) (a gateway.Amount, present bool, e *Error) {
	if len(raw) == 0 || string(raw) == "null" {
		if required {
			return 0, false, errorf(http.StatusBadRequest, CodeBadAmount, "%s is required: a string such as \"25.00\"", field)
		}
		return 0, false, nil
	}
	if raw[0] != '"' {
		return 0, false, errorf(http.StatusBadRequest, CodeBadAmount, "%s must be a string such as \"25.00\", not the JSON value %s", field, snippet(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, false, errorf(http.StatusBadRequest, CodeBadAmount, "%s: %v", field, err)
	}
	a, err := gateway.ParseAmount(s)
	if err != nil {
		return 0, false, errorf(http.StatusBadRequest, CodeBadAmount, "%s: %v (want yuan with at most two decimals, between 0.01 and %s)", field, err, gateway.MaxAmount)
	}
	if a == 0 && !allowZero {
		return 0, false, errorf(http.StatusBadRequest, CodeBadAmount, "%s must be above 0.00", field)
	}
	return a, true, nil
}

func snippet(b []byte) string {
	s := string(b)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// parseLimit reads ?limit=: empty is 0 (the list's default), else 1..max.
func parseLimit(r *http.Request, max int) (int, *Error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, errorf(http.StatusBadRequest, "BAD_LIMIT", "limit must be a whole number from 1 to %d, not %q", max, v)
	}
	return n, nil
}

// parseWait reads ?wait=: a Go duration from 0 to MaxWait.
func parseWait(r *http.Request) (time.Duration, *Error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > MaxWait {
		return 0, errorf(http.StatusBadRequest, "BAD_WAIT", "wait must be a duration such as \"30s\", at most %s, not %q", MaxWait, v)
	}
	return d, nil
}

// oneOf checks that exactly one of the named values is set.
func oneOf(names string, values ...string) *Error {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return errorf(http.StatusBadRequest, CodeBadRequest, "give exactly one of %s", strings.Join(strings.Split(names, "|"), ", "))
	}
	return nil
}

// requireField reports a missing required field.
func requireField(name, v string) *Error {
	if strings.TrimSpace(v) == "" {
		return errorf(http.StatusBadRequest, CodeBadRequest, "%s is required", name)
	}
	return nil
}
