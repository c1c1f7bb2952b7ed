package gateway_test

import (
	"errors"
	"strings"
	"testing"

	"posagent/gateway"
)

func TestVerifyReplyExactBytes(t *testing.T) {
	raw := readVector(t, "reply.raw") // contains \/ and \u00e9: verified as sent, not re-encoded
	sig := readVector(t, "reply.rsa2.sig")
	pub := vectorPublicKey(t)
	key := gateway.ResponseKey(gateway.MethodTradePay)
	bodies := map[string]string{
		"response first":       `{"` + key + `":` + raw + `,"sign":"` + sig + `"}`,
		"sign first":           `{"sign":"` + sig + `","` + key + `":` + raw + `}`,
		"whitespace around":    "{\n  \"" + key + "\" : " + raw + " ,\n  \"sign\" : \"" + sig + "\"\n}\n",
		"with alipay_cert_sn":  `{"` + key + `":` + raw + `,"alipay_cert_sn":"abc123","sign":"` + sig + `"}`,
		"unknown member first": `{"x":{"sign":"bogus","` + key + `":{}},"` + key + `":` + raw + `,"sign":"` + sig + `"}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			r, err := gateway.ParseReply([]byte(body), gateway.MethodTradePay)
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Raw) != raw {
				t.Fatalf("raw = %s", r.Raw)
			}
			if err := r.Verify(pub, gateway.RSA2); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestVerifyReplyRejects(t *testing.T) {
	raw := readVector(t, "reply.raw")
	sig := readVector(t, "reply.rsa2.sig")
	pub := vectorPublicKey(t)
	key := gateway.ResponseKey(gateway.MethodTradePay)
	tampered := strings.Replace(raw, "25.00", "26.00", 1)
	reencoded := strings.Replace(raw, `a\/b\u00e9`, "a/bé", 1)
	for name, tc := range map[string]struct {
		body    string
		wantErr error
	}{
		"missing sign":         {`{"` + key + `":` + raw + `}`, gateway.ErrBadSignature},
		"empty sign":           {`{"` + key + `":` + raw + `,"sign":""}`, gateway.ErrBadSignature},
		"one tampered byte":    {`{"` + key + `":` + tampered + `,"sign":"` + sig + `"}`, gateway.ErrBadSignature},
		"re-encoded escapes":   {`{"` + key + `":` + reencoded + `,"sign":"` + sig + `"}`, gateway.ErrBadSignature},
		"sign not base64":      {`{"` + key + `":` + raw + `,"sign":"%%%"}`, gateway.ErrBadSignature},
		"nested sign only":     {`{"` + key + `":{"code":"10000","sign":"` + sig + `"}}`, gateway.ErrBadSignature},
		"response twice":       {`{"` + key + `":` + raw + `,"` + key + `":{"code":"10000"},"sign":"` + sig + `"}`, gateway.ErrBadReply},
		"other method":         {`{"alipay_trade_query_response":` + raw + `,"sign":"` + sig + `"}`, gateway.ErrBadReply},
		"not json":             {`<html>502</html>`, gateway.ErrBadReply},
		"trailing garbage":     {`{"` + key + `":` + raw + `,"sign":"` + sig + `"}x`, gateway.ErrBadReply},
		"response not object":  {`{"` + key + `":"10000","sign":"` + sig + `"}`, gateway.ErrBadReply},
		"truncated":            {`{"` + key + `":` + raw, gateway.ErrBadReply},
		"sign is not a string": {`{"` + key + `":` + raw + `,"sign":1}`, gateway.ErrBadReply},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := gateway.ParseReply([]byte(tc.body), gateway.MethodTradePay)
			if err == nil {
				err = r.Verify(pub, gateway.RSA2)
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestErrorResponseIsUsedWhenMethodMemberAbsent(t *testing.T) {
	raw := `{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-method","sub_msg":"bad"}`
	r, err := gateway.ParseReply([]byte(`{"error_response":`+raw+`,"sign":"x"}`), gateway.MethodTradePay)
	if err != nil {
		t.Fatal(err)
	}
	if r.Key != gateway.ErrorResponseKey || string(r.Raw) != raw {
		t.Fatalf("got %s %s", r.Key, r.Raw)
	}
}

// A GBK sub_msg is not valid UTF-8; the signature is still checked over the
// raw bytes, untouched.
func TestVerifyRawNonUTF8Bytes(t *testing.T) {
	key := vectorKey(t)
	raw := []byte("{\"code\":\"40004\",\"msg\":\"Business Failed\",\"sub_code\":\"ACQ.BUYER_BALANCE_NOT_ENOUGH\",\"sub_msg\":\"\xd3\xe0\xb6\xee\xb2\xbb\xd7\xe3\"}")
	body, err := gateway.EncodeReply(gateway.ResponseKey(gateway.MethodTradePay), raw, key, gateway.RSA2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := gateway.ParseReply(body, gateway.MethodTradePay)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Raw) != string(raw) {
		t.Fatal("raw bytes changed")
	}
	if err := r.Verify(&key.PublicKey, gateway.RSA2); err != nil {
		t.Fatal(err)
	}
}
