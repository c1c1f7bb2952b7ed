package sandbox

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"posagent/gateway"
)

// Sub-codes of alipay.data.dataservice.bill.downloadurl.query.
const (
	subBillNotExist     = gateway.SubBillNotExist
	msgBillNotExist     = "账单不存在"
	subBillInvalidParam = "isv.invalid-parameter"
)

// Business types (业务类型) of bill rows.
const (
	billKindTrade  = "交易"
	billKindRefund = "退款"
)

// ErrNoBill is returned by Bill for a day without business, a future day,
// or a date that is not YYYY-MM-DD.
var ErrNoBill = errors.New("sandbox: no bill for that day")

// billHeader is the business-detail list's header line, as Alipay's.
var billHeader = []string{
	"支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号", "门店名称",
	"操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）", "集分宝（元）",
	"支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）",
	"卡消费金额（元）", "退款批次号/请求号", "服务费（元）", "分润（元）", "备注",
}

// BillRow adds a row to a day's bill, or alters or deletes one the sandbox
// made from its ledger (POST /sandbox/bill-rows), so that the mismatch
// paths of a reconciliation can be tested. Amounts are written as the bill
// prints them: negative on refund rows.
//
// JSON: {"action":"alter","date":"2026-12-03","out_trade_no":"T01_…",
// "type":"交易","amount":"24.00"}
type BillRow struct {
	// Action is "add" (default), "alter" or "delete". Alter and delete name
	// an existing row by out_trade_no, type and (for a refund row)
	// out_request_no; alter replaces the fields given.
	Action string `json:"action,omitempty"`
	// Date is the bill's day, YYYY-MM-DD. Default: the day of FinishedAt,
	// else today (sandbox clock, Asia/Shanghai).
	Date string `json:"date,omitempty"`
	// TradeNo is 支付宝交易号; an added row without one gets a new number
	// when it is added.
	TradeNo string `json:"trade_no,omitempty"`
	// OutTradeNo is 商户订单号. Required.
	OutTradeNo string `json:"out_trade_no"`
	// Type is 业务类型: 交易 (default) or 退款.
	Type string `json:"type,omitempty"`
	// Subject, TerminalID, OperatorID and StoreID fill 商品名称, 终端号,
	// 操作员 and 门店编号.
	Subject    string `json:"subject,omitempty"`
	TerminalID string `json:"terminal_id,omitempty"`
	OperatorID string `json:"operator_id,omitempty"`
	StoreID    string `json:"store_id,omitempty"`
	// OutRequestNo is 退款批次号/请求号 (refund rows).
	OutRequestNo string `json:"out_request_no,omitempty"`
	// FinishedAt is 完成时间, "2006-01-02 15:04:05". Default: Date at noon.
	FinishedAt string `json:"finished_at,omitempty"`
	// Amount is 订单金额（元）, e.g. "25.00" or "-5.00" (required to add).
	// Received is 商家实收（元); default Amount.
	Amount   string `json:"amount,omitempty"`
	Received string `json:"received,omitempty"`
}

// billLine is one row of a bill being built.
type billLine struct {
	tradeNo, outTradeNo, kind, subject string
	created, finished                  time.Time
	storeID, operatorID, terminalID    string
	buyer                              string
	amount, received, fee              gateway.Amount
	outRequestNo                       string
}

// matches reports whether r names line l (for alter and delete).
func (r *BillRow) matches(l *billLine) bool {
	kind := r.Type
	if kind == "" {
		kind = billKindTrade
	}
	return l.outTradeNo == r.OutTradeNo && l.kind == kind && (kind != billKindRefund || l.outRequestNo == r.OutRequestNo)
}

// parseSigned reads "25.00" or "-5.00" into fen.
func parseSigned(s string) (gateway.Amount, error) {
	neg := strings.HasPrefix(s, "-")
	a, err := gateway.ParseAmount(strings.TrimPrefix(s, "-"))
	if neg {
		a = -a
	}
	return a, err
}

// normalize checks r and fills its defaults; today is the sandbox's day.
func (r *BillRow) normalize(today string) error {
	switch r.Action {
	case "":
		r.Action = "add"
	case "add", "alter", "delete":
	default:
		return fmt.Errorf("action %q: want add, alter or delete", r.Action)
	}
	switch r.Type {
	case "":
		r.Type = billKindTrade
	case billKindTrade, billKindRefund:
	default:
		return fmt.Errorf("type %q: want 交易 or 退款", r.Type)
	}
	if r.OutTradeNo == "" {
		return errors.New("out_trade_no is required")
	}
	if r.FinishedAt != "" {
		t, err := time.ParseInLocation(gateway.TimestampLayout, r.FinishedAt, gateway.Shanghai)
		if err != nil {
			return fmt.Errorf("finished_at %q: want 2006-01-02 15:04:05", r.FinishedAt)
		}
		if r.Date == "" {
			r.Date = t.Format(time.DateOnly)
		}
	}
	if r.Date == "" {
		r.Date = today
	}
	if _, err := time.Parse(time.DateOnly, r.Date); err != nil {
		return fmt.Errorf("date %q: want YYYY-MM-DD", r.Date)
	}
	if r.Action == "add" && r.Amount == "" {
		return errors.New("amount is required to add a row")
	}
	for _, a := range []struct{ name, v string }{{"amount", r.Amount}, {"received", r.Received}} {
		if a.v == "" {
			continue
		}
		if _, err := parseSigned(a.v); err != nil {
			return fmt.Errorf("%s: %v", a.name, err)
		}
	}
	return nil
}

// apply adds, alters or deletes r in lines; it reports whether a row matched
// (always true for add).
func (r *BillRow) apply(lines []*billLine) ([]*billLine, bool) {
	if r.Action == "add" {
		l := &billLine{tradeNo: r.TradeNo, outTradeNo: r.OutTradeNo, kind: r.Type, outRequestNo: r.OutRequestNo}
		r.alter(l)
		if l.finished.IsZero() {
			d, _ := time.ParseInLocation(time.DateOnly, r.Date, gateway.Shanghai)
			l.finished = d.Add(12 * time.Hour)
		}
		l.created = l.finished
		return append(lines, l), true
	}
	for i, l := range lines {
		if !r.matches(l) {
			continue
		}
		if r.Action == "delete" {
			return append(lines[:i:i], lines[i+1:]...), true
		}
		r.alter(l)
		return lines, true
	}
	return lines, false
}

// alter copies the fields r gives onto l.
func (r *BillRow) alter(l *billLine) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&l.tradeNo, r.TradeNo)
	set(&l.subject, r.Subject)
	set(&l.terminalID, r.TerminalID)
	set(&l.operatorID, r.OperatorID)
	set(&l.storeID, r.StoreID)
	set(&l.outRequestNo, r.OutRequestNo)
	if r.FinishedAt != "" {
		l.finished, _ = time.ParseInLocation(gateway.TimestampLayout, r.FinishedAt, gateway.Shanghai)
	}
	if r.Amount != "" {
		l.amount, _ = parseSigned(r.Amount)
		l.received = l.amount
	}
	if r.Received != "" {
		l.received, _ = parseSigned(r.Received)
	}
}

// fee is the service fee of an amount: 0.6 %, rounded half up, in fen.
func fee(a gateway.Amount) gateway.Amount {
	if a < 0 {
		return -fee(-a)
	}
	return (a*6 + 500) / 1000
}

// dayOf is the Asia/Shanghai day of t.
func dayOf(t time.Time) string { return t.In(gateway.Shanghai).Format(time.DateOnly) }

// billLines builds the rows of day's bill from the ledger and the bill-row
// overrides, in completion order. l.mu must be held.
func (l *ledger) billLines(day string) []*billLine {
	var lines []*billLine
	for _, t := range l.trades {
		if t.tradeNo == "" || t.paidAt.IsZero() {
			continue
		}
		base := billLine{
			tradeNo: t.tradeNo, outTradeNo: t.outTradeNo, subject: t.subject, created: t.created,
			storeID: t.storeID, operatorID: t.operatorID, terminalID: t.terminalID,
			buyer: "*客(" + logonIDOf(t.buyerUserID) + ")",
		}
		if dayOf(t.paidAt) == day {
			ln := base
			ln.kind, ln.finished = billKindTrade, t.paidAt
			ln.amount, ln.received, ln.fee = t.amount, t.amount, -fee(t.amount)
			lines = append(lines, &ln)
		}
		for _, r := range t.refunds {
			if dayOf(r.at) == day {
				ln := base
				ln.kind, ln.finished, ln.outRequestNo = billKindRefund, r.at, r.outRequestNo
				ln.amount, ln.received, ln.fee = -r.amount, -r.amount, fee(r.amount)
				lines = append(lines, &ln)
			}
		}
		if t.cancelAction == gateway.CancelRefund && dayOf(t.cancelledAt) == day {
			// A cancel's reversal; its request number is the out_trade_no,
			// as for a refund sent without out_request_no.
			ln := base
			ln.kind, ln.finished, ln.outRequestNo = billKindRefund, t.cancelledAt, t.outTradeNo
			ln.amount, ln.received, ln.fee = -t.amount, -t.amount, fee(t.amount)
			lines = append(lines, &ln)
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].finished.Before(lines[j].finished) })
	for i := range l.billRows {
		r := &l.billRows[i]
		if r.Date == day {
			lines, _ = r.apply(lines)
		}
	}
	return lines
}

// AddBillRows adds, alters or deletes rows of the sandbox's bills (see
// BillRow); they apply in order, after the rows made from the ledger, every
// time a bill is built. Errors: a malformed row, or an alter or delete that
// names no row of its day's bill; then none of rows is kept.
func (s *Sandbox) AddBillRows(rows []BillRow) error {
	now := s.cfg.Now()
	today := dayOf(now)
	l := s.ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range rows {
		if err := rows[i].normalize(today); err != nil {
			return fmt.Errorf("sandbox: bill row %d: %w", i, err)
		}
		if rows[i].Action == "add" {
			continue
		}
		saved := l.billRows
		l.billRows = append(l.billRows[:len(l.billRows):len(l.billRows)], rows[:i]...)
		lines := l.billLines(rows[i].Date)
		l.billRows = saved
		if _, ok := rows[i].apply(lines); !ok {
			return fmt.Errorf("sandbox: bill row %d: no %s row of %s with out_trade_no %s in the bill of %s",
				i, rows[i].Type, rows[i].OutTradeNo, rows[i].OutRequestNo, rows[i].Date)
		}
	}
	for i := range rows {
		if rows[i].Action == "add" && rows[i].TradeNo == "" {
			rows[i].TradeNo = l.newTradeNo(now)
		}
	}
	l.billRows = append(l.billRows, rows...)
	return nil
}

// BillRows returns the bill-row overrides in force.
func (s *Sandbox) BillRows() []BillRow {
	s.ledger.mu.Lock()
	defer s.ledger.mu.Unlock()
	return append([]BillRow{}, s.ledger.billRows...)
}

// ResetBillRows drops every bill-row override.
func (s *Sandbox) ResetBillRows() {
	s.ledger.mu.Lock()
	defer s.ledger.mu.Unlock()
	s.ledger.billRows = nil
}

// billAccount is the merchant's account number in bill headers and file
// names: the PID followed by 0156, as Alipay prints it.
func (s *Sandbox) billAccount() string { return s.cfg.PayPID + "0156" }

// Bill returns the zipped trade bill of day (YYYY-MM-DD, Asia/Shanghai) as
// the real gateway serves it: a zip of the business-detail CSV
// (ACCOUNT_YYYYMMDD_业务明细.csv) and its summary (…_业务明细(汇总).csv),
// both GBK, file names in GBK. Today's bill is served too, as a sandbox
// convenience (the real gateway serves T+1). Errors: ErrNoBill.
func (s *Sandbox) Bill(day string) ([]byte, error) {
	d, err := time.ParseInLocation(time.DateOnly, day, gateway.Shanghai)
	now := s.cfg.Now()
	if err != nil || day > dayOf(now) {
		return nil, ErrNoBill
	}
	l := s.ledger
	l.mu.Lock()
	lines := l.billLines(day)
	l.mu.Unlock()
	if len(lines) == 0 {
		return nil, ErrNoBill
	}
	account := s.billAccount()
	period := fmt.Sprintf("#起始日期：[%s]   终止日期：[%s]", d.Format("2006年01月02日 15:04:05"), d.AddDate(0, 0, 1).Format("2006年01月02日 15:04:05"))
	exported := "#导出时间：[" + now.In(gateway.Shanghai).Format("2006年01月02日 15:04:05") + "]"

	var detail bytes.Buffer
	w := func(fields ...string) {
		for i, f := range fields {
			if i > 0 {
				detail.WriteByte(',')
			}
			detail.WriteString(csvField(f))
		}
		detail.WriteString("\r\n")
	}
	detail.WriteString("#支付宝业务明细查询\r\n#账号：[" + account + "]\r\n" + period + "\r\n")
	detail.WriteString("#-----------------------------------------业务明细列表----------------------------------------\r\n")
	w(billHeader...)
	var trades, refunds int
	var tradeSum, refundSum gateway.Amount
	type storeSum struct {
		trades, refunds  int
		amount, fee, net gateway.Amount
	}
	stores := map[string]*storeSum{}
	var storeOrder []string
	for _, ln := range lines {
		const tab = "\t"
		w(ln.tradeNo+tab, ln.outTradeNo+tab, ln.kind+tab, ln.subject,
			ln.created.In(gateway.Shanghai).Format(gateway.TimestampLayout), ln.finished.In(gateway.Shanghai).Format(gateway.TimestampLayout),
			ln.storeID+tab, tab, ln.operatorID+tab, ln.terminalID+tab, ln.buyer+tab,
			ln.amount.String(), ln.received.String(), "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00"+tab, "0.00",
			ln.outRequestNo+tab, ln.fee.String(), "0.00", "")
		st := stores[ln.storeID]
		if st == nil {
			st = &storeSum{}
			stores[ln.storeID] = st
			storeOrder = append(storeOrder, ln.storeID)
		}
		if ln.kind == billKindRefund {
			refunds++
			refundSum += ln.received
			st.refunds++
		} else {
			trades++
			tradeSum += ln.received
			st.trades++
		}
		st.amount += ln.received
		st.fee += ln.fee
		st.net += ln.received + ln.fee
	}
	detail.WriteString("#-----------------------------------------业务明细列表结束------------------------------------\r\n")
	fmt.Fprintf(&detail, "#交易合计：%d笔，商家实收共%s元，商家优惠共0.00元\r\n", trades, tradeSum)
	fmt.Fprintf(&detail, "#退款合计：%d笔，商家实收退款共%s元，商家优惠退款共0.00元\r\n", refunds, refundSum)
	detail.WriteString(exported + "\r\n")

	var summary bytes.Buffer
	summary.WriteString("#支付宝业务汇总查询\r\n#账号：[" + account + "]\r\n" + period + "\r\n")
	summary.WriteString("#-----------------------------------------业务汇总列表----------------------------------------\r\n")
	summary.WriteString("门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）\r\n")
	var total storeSum
	for _, id := range storeOrder {
		st := stores[id]
		fmt.Fprintf(&summary, "%s\t,\t,%d,%d,%s,%s,0.00,0.00,0.00,%s,0.00,%s\r\n", csvField(id), st.trades, st.refunds, st.amount, st.amount, st.fee, st.net)
		total.trades += st.trades
		total.refunds += st.refunds
		total.amount += st.amount
		total.fee += st.fee
		total.net += st.net
	}
	fmt.Fprintf(&summary, "合计,,%d,%d,%s,%s,0.00,0.00,0.00,%s,0.00,%s\r\n", total.trades, total.refunds, total.amount, total.amount, total.fee, total.net)
	summary.WriteString("#-----------------------------------------业务汇总列表结束-----------------------------------\r\n")
	summary.WriteString(exported + "\r\n")

	base := account + "_" + d.Format("20060102")
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range []struct {
		name string
		body []byte
	}{{base + "_业务明细.csv", detail.Bytes()}, {base + "_业务明细(汇总).csv", summary.Bytes()}} {
		if err := writeGBKEntry(zw, f.name, f.body, now); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// writeGBKEntry adds a file to zw with its name and content in GB18030
// (GBK for every character GBK has), the name not flagged UTF-8.
func writeGBKEntry(zw *zip.Writer, name string, body []byte, modified time.Time) error {
	gbName, err := simplifiedchinese.GB18030.NewEncoder().String(name)
	if err != nil {
		return err
	}
	gbBody, err := simplifiedchinese.GB18030.NewEncoder().Bytes(body)
	if err != nil {
		return err
	}
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: gbName, Method: zip.Deflate, NonUTF8: true, Modified: modified.In(gateway.Shanghai)})
	if err != nil {
		return err
	}
	_, err = fw.Write(gbBody)
	return err
}

// csvField quotes a value only when CSV needs it (a comma, quote or line
// break), so padding tabs stay bare as in Alipay's bills.
func csvField(s string) string {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// billBaseURL is where the sandbox's bills are served: its listener, or the
// in-process host that Client's transport serves.
func (s *Sandbox) billBaseURL() string {
	u := s.URL()
	if u == "" {
		u = inProcessURL
	}
	return strings.TrimSuffix(u, "/gateway.do")
}

// billDownloadURLQuery answers alipay.data.dataservice.bill.downloadurl.query:
// for bill_type trade and a day with a bill (see Bill), the URL of the zip
// on the sandbox's own listener; otherwise isp.bill_not_exist (also for
// monthly bills and signcustomer, which the sandbox does not keep).
func (s *Sandbox) billDownloadURLQuery(req *request, now time.Time) any {
	var in gateway.BillDownloadURLQueryRequest
	if err := parseBiz(req.biz, &in); err != nil {
		return gateway.BillDownloadURLQueryResponse{Common: fail(subBillInvalidParam, msgInvalidParameter+": "+err.Error())}
	}
	if in.BillType != gateway.BillTypeTrade || len(in.BillDate) != len(time.DateOnly) {
		return gateway.BillDownloadURLQueryResponse{Common: fail(subBillNotExist, msgBillNotExist)}
	}
	if _, err := s.Bill(in.BillDate); err != nil {
		return gateway.BillDownloadURLQueryResponse{Common: fail(subBillNotExist, msgBillNotExist)}
	}
	file := s.billAccount() + "_" + strings.ReplaceAll(in.BillDate, "-", "") + ".csv.zip"
	q := url.Values{"bizType": {"trade"}, "downloadFileName": {file}, "bizDates": {strings.ReplaceAll(in.BillDate, "-", "")}}
	return gateway.BillDownloadURLQueryResponse{
		Common:          success,
		BillDownloadURL: s.billBaseURL() + "/sandbox/bills/" + in.BillDate + "?" + q.Encode(),
	}
}

// serveBill answers GET /sandbox/bills/{date} with the zipped bill, 404
// when there is none.
func (s *Sandbox) serveBill(w http.ResponseWriter, r *http.Request) {
	day := r.PathValue("date")
	b, err := s.Bill(day)
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", `attachment; filename="`+s.billAccount()+"_"+strings.ReplaceAll(day, "-", "")+`.csv.zip"`)
	w.Write(b)
}

// serveBillRows answers GET /sandbox/bill-rows with the overrides in force,
// POST with {"rows":[BillRow…]} to add more (400 {"error":…} when one is
// malformed or names no row), DELETE to drop them all.
func (s *Sandbox) serveBillRows(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		var body struct {
			Rows []BillRow `json:"rows"`
		}
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "sandbox: bill rows: " + err.Error()})
			return
		}
		if err := s.AddBillRows(body.Rows); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	case http.MethodDelete:
		s.ResetBillRows()
	}
	writeJSON(w, http.StatusOK, map[string][]BillRow{"rows": s.BillRows()})
}
