#!/usr/bin/env bash
# Regenerates the signing vectors in this folder with openssl alone, so the
# expected signatures are computed independently of posagent's code.
# TEST-ONLY keys: they protect nothing and must never be used by a store.
#   cd gateway/testdata/vectors && ./make-vectors.sh
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f test-only-app-pkcs1.txt ]; then
  openssl genrsa -traditional -out test-only-app-pkcs1.txt 2048 2>/dev/null
fi
openssl pkcs8 -topk8 -nocrypt -in test-only-app-pkcs1.txt -out test-only-app-pkcs8.txt
openssl rsa -in test-only-app-pkcs1.txt -pubout -out test-only-app-public-spki.txt 2>/dev/null
# bare base64 bodies, as the Alipay key tool writes them
grep -v -- '-----' test-only-app-pkcs8.txt | tr -d '\n' > test-only-app-pkcs8-bare.txt
grep -v -- '-----' test-only-app-public-spki.txt | tr -d '\n' > test-only-app-public-bare.txt
# The sign string: every non-empty param but sign, sorted, k=v joined by &,
# raw values. printf keeps it byte-exact (no trailing newline).
printf '%s' 'app_id=2021000000000001&biz_content={"out_trade_no":"T01_20260101_0001","scene":"bar_code","auth_code":"286861260475412123","subject":"Coffee & cake <2>","total_amount":"25.00","extend_params":{"DYNAMIC_TOKEN_OUT_BIZ_NO":"T01_sence_1"}}&charset=utf-8&format=JSON&method=alipay.trade.pay&sign_type=RSA2&timestamp=2026-01-01 12:00:00&version=1.0' > pay.signstring
openssl dgst -sha256 -sign test-only-app-pkcs1.txt pay.signstring | base64 -w0 > pay.rsa2.sig
openssl dgst -sha1 -sign test-only-app-pkcs1.txt pay.signstring | base64 -w0 > pay.rsa.sig
# A reply value, signed over its exact bytes (escapes and all).
printf '%s' '{"code":"10000","msg":"Success","trade_no":"2026010122001","out_trade_no":"T01_20260101_0001","buyer_logon_id":"a\/b\u00e9***@x.com","total_amount":"25.00"}' > reply.raw
openssl dgst -sha256 -sign test-only-app-pkcs1.txt reply.raw | base64 -w0 > reply.rsa2.sig
