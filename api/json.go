package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// MaxBodyBytes caps a request body. A coupon import of a few thousand
// coupons fits; anything larger is refused with 413.
const MaxBodyBytes = 1 << 20

// Error is the body of every error reply: {"error":{"code","message"}},
// with "sub_msg" when Alipay refused a request.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// SubMsg is the gateway's own sub_msg, as it sent it (often Chinese),
	// when the error is Alipay's refusal; Code is then its sub_code and
	// Message says the same in English.
	SubMsg string `json:"sub_msg,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		b.Reset()
		b.WriteString(`{"error":{"code":"INTERNAL","message":"could not encode the reply"}}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, map[string]*Error{"error": e})
}

// decodeBody reads one JSON value from the request into v: size-capped,
// unknown fields refused, nothing after the value. Errors say what is wrong
// in words a developer of the register software can act on.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) *Error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, "BAD_CONTENT_TYPE", "send JSON with Content-Type: application/json, not %q", ct)
		}
	}
	if r.ContentLength > MaxBodyBytes {
		return errorf(http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "the body is larger than %d bytes", MaxBodyBytes)
	}
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil || !isMaxBytes(err) {
			return errorf(http.StatusBadRequest, "MALFORMED_JSON", "the body must hold exactly one JSON value")
		}
		return jsonError(err)
	}
	return nil
}

func isMaxBytes(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

func jsonError(err error) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case isMaxBytes(err):
		return errorf(http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "the body is larger than %d bytes", MaxBodyBytes)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "MALFORMED_JSON", "the body is empty; send JSON")
	case errors.As(err, &syn):
		return errorf(http.StatusBadRequest, "MALFORMED_JSON", "malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		return errorf(http.StatusBadRequest, "BAD_FIELD", "%s: want %s, got %s", field, jsonKind(typ.Type), jsonValueWord(typ.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errorf(http.StatusBadRequest, "UNKNOWN_FIELD", "%s is not a field of this request", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return errorf(http.StatusBadRequest, "MALFORMED_JSON", "%v", err)
}

// jsonKind names what JSON a Go type takes, for a person writing the
// request (never the Go type's name, such as []api.couponImport).
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[json.RawMessage]() {
		return "a JSON value"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a JSON array"
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "another JSON value"
}

// jsonValueWord names the JSON value encoding/json found ("object",
// "array", "string", "number 12", "bool").
func jsonValueWord(v string) string {
	switch {
	case v == "bool":
		return "true or false"
	case v == "object", v == "array", v == "string", v == "number":
		return "a JSON " + v
	case strings.HasPrefix(v, "number "):
		return "the number " + strings.TrimPrefix(v, "number ")
	}
	return v
}
