'use strict';
// Official SDK compatibility check for the posagent sandbox.
//
// Calls every method posagent uses (refunds and bills included) through the unmodified official
// Alipay Node SDK (npm "alipay-sdk", pinned in package.json), with reply
// signature verification on, and exits non-zero on the first failure.
//
//   node compat.js GATEWAY_URL APP_ID APP_PRIVATE_KEY_FILE ALIPAY_PUBLIC_KEY_FILE PAY_PID \
//     [APP_CERT_FILE ALIPAY_CERT_FILE ALIPAY_ROOT_CERT_FILE]
//
// or the same through SANDBOX_GATEWAY, SANDBOX_APP_ID, SANDBOX_APP_PRIVATE_KEY,
// SANDBOX_ALIPAY_PUBLIC_KEY, SANDBOX_PAY_PID (and SANDBOX_APP_CERT,
// SANDBOX_ALIPAY_CERT, SANDBOX_ALIPAY_ROOT_CERT). With the three certificate
// files the SDK runs in certificate mode (appCertPath, alipayPublicCertPath,
// alipayRootCertPath), against "posagent sandbox --cert-mode". The SDK stamps requests with the
// local time, which the gateway reads as Asia/Shanghai: run with
// TZ=Asia/Shanghai. Resolve the SDK with NODE_PATH=<dir>/node_modules when it
// is installed elsewhere.
//
// Two SDK behaviours shape the checks:
//  - exec() snake-cases every key of bizContent, so extend_params'
//    DYNAMIC_TOKEN_OUT_BIZ_NO goes out as dynamic_token_out_biz_no, which the
//    gateway does not read: a decoded code cannot be paid through exec().
//    The script checks that refusal, and pays with codes it did not decode.
//  - its verifier looks for "<method>_response" only, so an error_response
//    (unknown method) cannot be verified by it; that call runs unverified.

const fs = require('node:fs');
const crypto = require('node:crypto');
const { AlipaySdk } = require('alipay-sdk');

const arg = (i, env) => process.argv[2 + i] || process.env[env] || '';
const gateway = arg(0, 'SANDBOX_GATEWAY');
const appId = arg(1, 'SANDBOX_APP_ID');
const appPrivateKeyFile = arg(2, 'SANDBOX_APP_PRIVATE_KEY');
const alipayPublicKeyFile = arg(3, 'SANDBOX_ALIPAY_PUBLIC_KEY');
const payPid = arg(4, 'SANDBOX_PAY_PID');
const appCertFile = arg(5, 'SANDBOX_APP_CERT');
const alipayCertFile = arg(6, 'SANDBOX_ALIPAY_CERT');
const alipayRootCertFile = arg(7, 'SANDBOX_ALIPAY_ROOT_CERT');
const certMode = !!(appCertFile && alipayCertFile && alipayRootCertFile);
if (!gateway || !appId || !appPrivateKeyFile || !alipayPublicKeyFile || !payPid) {
  console.error('usage: node compat.js GATEWAY_URL APP_ID APP_PRIVATE_KEY_FILE ALIPAY_PUBLIC_KEY_FILE PAY_PID');
  process.exit(2);
}
const base = gateway.replace(/\/gateway\.do$/, '');

// The SDK's key formatter expects no trailing newline after the PEM footer.
const pem = (file) => fs.readFileSync(file, 'utf8').trim();

// The gateway's key: its public key, or in certificate mode the three
// certificates (the SDK computes app_cert_sn and alipay_root_cert_sn).
const verifyWith = certMode
  ? { appCertPath: appCertFile, alipayPublicCertPath: alipayCertFile, alipayRootCertPath: alipayRootCertFile }
  : { alipayPublicKey: pem(alipayPublicKeyFile) };
if (certMode) console.log('certificate mode');

const sdk = new AlipaySdk({
  appId,
  privateKey: pem(appPrivateKeyFile),
  keyType: 'PKCS8',
  ...verifyWith,
  gateway,
  signType: 'RSA2',
  timeout: 10000,
});

const stranger = new AlipaySdk({
  appId,
  privateKey: crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    .export({ type: 'pkcs8', format: 'pem' }).toString(),
  keyType: 'PKCS8',
  ...verifyWith,
  gateway,
  timeout: 10000,
});

let checks = 0;
function expect(name, cond, got) {
  checks++;
  if (!cond) {
    console.error(`FAIL ${name}: ${JSON.stringify(got)}`);
    process.exit(1);
  }
  console.log(`ok   ${name}`);
}

async function call(method, bizContent, client = sdk, validateSign = true) {
  return client.exec(method, { bizContent }, { validateSign });
}

const digits = (n) => Array.from(crypto.randomBytes(n), (b) => String(b % 10)).join('');
const freshCode = () => '28' + digits(16); // never starts with the test-code marker 2899999999
const unique = (p) => `${p}_${Date.now()}_${digits(6)}`;

async function main() {
  // alipay.user.twostage.common.use
  const code = freshCode();
  const sence = unique('S');
  let r = await call('alipay.user.twostage.common.use', { dynamic_id: code, sence_no: sence, pay_pid: payPid });
  expect('decode', r.code === '10000' && r.userId === '2088' + code.slice(-12), r);
  r = await call('alipay.user.twostage.common.use', { dynamic_id: code, sence_no: unique('S'), pay_pid: payPid });
  expect('decode with another sence_no', r.code === '40004' && r.subCode === 'SENCENO_UN_MATCH', r);

  // alipay.trade.pay
  r = await call('alipay.trade.pay', {
    out_trade_no: unique('T'), scene: 'bar_code', auth_code: code, subject: 'compat', total_amount: '1.00',
    extend_params: { DYNAMIC_TOKEN_OUT_BIZ_NO: sence },
  });
  expect('pay of a decoded code (token key snake-cased by the SDK) is refused',
    r.code === '40004' && r.subCode === 'ACQ.INVALID_PARAMETER', r);
  const out = unique('T');
  const payCode = freshCode();
  const pay = { out_trade_no: out, scene: 'bar_code', auth_code: payCode, subject: '测试商品', total_amount: '25.00' };
  r = await call('alipay.trade.pay', pay);
  expect('pay', r.code === '10000' && r.tradeNo && r.totalAmount === '25.00' && r.buyerUserId === '2088' + payCode.slice(-12), r);
  const tradeNo = r.tradeNo;
  r = await call('alipay.trade.pay', pay);
  expect('pay again: same trade', r.code === '10000' && r.tradeNo === tradeNo, r);
  r = await call('alipay.trade.pay', { ...pay, total_amount: '26.00' });
  expect('pay again, other amount', r.code === '40004' && r.subCode === 'ACQ.CONTEXT_INCONSISTENT', r);

  // alipay.trade.query
  r = await call('alipay.trade.query', { out_trade_no: out });
  expect('query', r.code === '10000' && r.tradeStatus === 'TRADE_SUCCESS' && r.tradeNo === tradeNo, r);
  r = await call('alipay.trade.query', { trade_no: tradeNo });
  expect('query by trade_no', r.code === '10000' && r.outTradeNo === out, r);
  r = await call('alipay.trade.query', { out_trade_no: unique('T') });
  expect('query unknown', r.code === '40004' && r.subCode === 'ACQ.TRADE_NOT_EXIST', r);

  // A password wait (test code 01, resolves after 2 queries).
  const waitOut = unique('T');
  r = await call('alipay.trade.pay', {
    out_trade_no: waitOut, scene: 'bar_code', auth_code: '2899999999012' + digits(5), subject: 'wait', total_amount: '3.00',
  });
  expect('pay waits for the password', r.code === '10003', r);
  r = await call('alipay.trade.query', { out_trade_no: waitOut });
  expect('query while waiting', r.code === '10000' && r.tradeStatus === 'WAIT_BUYER_PAY', r);
  r = await call('alipay.trade.query', { out_trade_no: waitOut });
  expect('query after the password', r.code === '10000' && r.tradeStatus === 'TRADE_SUCCESS', r);

  // alipay.trade.cancel
  r = await call('alipay.trade.cancel', { out_trade_no: out });
  expect('cancel paid → refund', r.code === '10000' && r.action === 'refund' && r.retryFlag === 'N', r);
  r = await call('alipay.trade.cancel', { out_trade_no: out });
  expect('cancel again', r.code === '10000' && r.action === 'refund', r);
  const early = unique('T');
  r = await call('alipay.trade.cancel', { out_trade_no: early });
  expect('cancel before pay → close', r.code === '10000' && r.action === 'close', r);
  r = await call('alipay.trade.pay', { ...pay, out_trade_no: early, auth_code: freshCode() });
  expect('pay of a closed number', r.code === '40004' && r.subCode === 'ACQ.TRADE_HAS_CLOSE', r);

  // alipay.trade.refund and alipay.trade.fastpay.refund.query (SPEC §11)
  const refundOut = unique('T');
  r = await call('alipay.trade.pay', { ...pay, out_trade_no: refundOut, auth_code: freshCode(), total_amount: '10.00' });
  expect('pay to refund', r.code === '10000', r);
  const reqNo = unique('R');
  r = await call('alipay.trade.refund', { out_trade_no: refundOut, refund_amount: '4.00', out_request_no: reqNo, refund_reason: '退货' });
  expect('refund part', r.code === '10000' && r.fundChange === 'Y' && r.refundFee === '4.00' && r.outTradeNo === refundOut, r);
  r = await call('alipay.trade.refund', { out_trade_no: refundOut, refund_amount: '4.00', out_request_no: reqNo, refund_reason: '退货' });
  expect('refund again: first result, no money moves', r.code === '10000' && r.fundChange === 'N' && r.refundFee === '4.00', r);
  r = await call('alipay.trade.refund', { out_trade_no: refundOut, refund_amount: '6.01', out_request_no: unique('R') });
  expect('refund beyond what is left', r.code === '40004' && r.subCode === 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', r);
  r = await call('alipay.trade.fastpay.refund.query', { out_trade_no: refundOut, out_request_no: reqNo, query_options: ['gmt_refund_pay'] });
  expect('refund query', r.code === '10000' && r.refundStatus === 'REFUND_SUCCESS' && r.refundAmount === '4.00' &&
    r.outRequestNo === reqNo && r.gmtRefundPay, r);
  r = await call('alipay.trade.fastpay.refund.query', { out_trade_no: refundOut, out_request_no: unique('R') });
  expect('refund query of a refund never made', r.code === '10000' && !r.refundAmount && !r.refundStatus, r);
  r = await call('alipay.trade.refund', { out_trade_no: refundOut, refund_amount: '6.00', out_request_no: unique('R') });
  expect('refund the rest', r.code === '10000' && r.fundChange === 'Y' && r.refundFee === '10.00', r);
  r = await call('alipay.trade.query', { out_trade_no: refundOut });
  expect('refunded in full → TRADE_CLOSED', r.code === '10000' && r.tradeStatus === 'TRADE_CLOSED', r);
  r = await call('alipay.trade.refund', { out_trade_no: waitOut + 'x', refund_amount: '1.00', out_request_no: unique('R') });
  expect('refund of an unknown trade', r.code === '40004' && r.subCode === 'ACQ.TRADE_NOT_EXIST', r);

  // alipay.data.dataservice.bill.downloadurl.query (SPEC §12): today's bill
  // (the sandbox serves it; the SDK runs with TZ=Asia/Shanghai).
  const now = new Date();
  const today = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
  r = await call('alipay.data.dataservice.bill.downloadurl.query', { bill_type: 'trade', bill_date: today });
  expect('bill download url', r.code === '10000' && r.billDownloadUrl && r.billDownloadUrl.startsWith(base + '/sandbox/bills/'), r);
  const billRes = await fetch(r.billDownloadUrl);
  const zip = Buffer.from(await billRes.arrayBuffer());
  expect('bill is a zip', billRes.ok && zip.subarray(0, 2).toString() === 'PK', billRes.status);
  r = await call('alipay.data.dataservice.bill.downloadurl.query', { bill_type: 'trade', bill_date: '2000-01-01' });
  expect('bill of a day without business', r.code === '40004' && r.subCode === 'isp.bill_not_exist', r);

  // alipay.user.scene.cooperation.consult
  r = await call('alipay.user.scene.cooperation.consult', { principal: { user_id: '2088000000000002' }, scene: 'youku' });
  expect('consult', r.code === '10000' && r.consultResult === true, r);
  r = await call('alipay.user.scene.cooperation.consult', { principal: { user_id: '2088000000000002' } });
  expect('consult without scene', r.code === '40004' && r.subCode === 'INVALID_PARAMETER', r);

  // alipay.user.invite.award.receive
  const outBizNo = unique('B');
  const mobile = '138' + digits(7) + '1';
  r = await call('alipay.user.invite.award.receive', { mobile, out_biz_no: outBizNo });
  expect('award', r.code === '10000' && r.bizResultCode === 'NEW_AWARD_SUCESS' && r.userAttr === 'NEW', r);
  r = await call('alipay.user.invite.award.receive', { mobile, out_biz_no: outBizNo });
  expect('award again: first result', r.code === '10000' && r.bizResultCode === 'NEW_AWARD_SUCESS', r);

  // alipay.user.agreement.batch.query
  r = await call('alipay.user.agreement.batch.query', { personal_product_code: 'GENERAL_WITHHOLDING_P', alipay_user_id: '2088101122675263' });
  expect('agreements', r.code === '10000' && r.usageAgreementInfoList.length === 1 &&
    r.usageAgreementInfoList[0].principalId === '2088101122675263', r);
  r = await call('alipay.user.agreement.batch.query', { personal_product_code: 'GENERAL_WITHHOLDING_P', alipay_user_id: '2088999999990001' });
  expect('agreements of an unknown user', r.code === '40004' && r.subCode === 'USER_NOT_EXIST_ERROR', r);

  // Gateway errors, signed and verified like any reply.
  r = await call('alipay.trade.query', { out_trade_no: out }, stranger);
  expect('request signed by an unknown key', r.code === '40002' && r.subCode === 'isv.invalid-signature', r);
  r = await call('alipay.trade.nonexistent', {}, sdk, false);
  expect('unknown method', r.code === '40002' && r.subCode === 'isv.invalid-method', r);

  if (certMode) {
    // The gateway checks the SNs: the same app without its certificate is refused.
    const plain = new AlipaySdk({
      appId, privateKey: pem(appPrivateKeyFile), keyType: 'PKCS8', alipayPublicKey: pem(alipayPublicKeyFile), gateway, timeout: 10000,
    });
    r = await call('alipay.trade.query', { out_trade_no: out }, plain);
    expect('certificate mode: a request without app_cert_sn is refused', r.code === '40001' && r.subCode === 'isv.missing-app-cert-sn', r);
  }

  // The SDK really verifies: a corrupted reply signature is refused.
  let res = await fetch(`${base}/sandbox/faults`, { method: 'POST', body: JSON.stringify({ bad_sign: 1, methods: ['alipay.trade.query'] }) });
  expect('set bad_sign fault', res.ok, res.status);
  let threw = null;
  try {
    await call('alipay.trade.query', { out_trade_no: out });
  } catch (err) {
    threw = err;
  }
  res = await fetch(`${base}/sandbox/faults`, { method: 'POST', body: '{}' });
  expect('clear faults', res.ok, res.status);
  expect('SDK refuses a corrupted reply signature', threw && /验签失败/.test(threw.message), threw && threw.message);

  console.log(`${checks} passed, 0 failed`);
}

main().catch((err) => {
  console.error('FAIL', err);
  process.exit(1);
});
