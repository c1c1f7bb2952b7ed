// Package reconcile reads Alipay's daily trade bill and checks it against
// what posagent recorded (SPEC §12). It owns the streaming parse of the
// bill zip (the GBK business-detail CSV in it, columns found by header
// name), the size-capped download of the bill, and the comparison that
// gives the reconciliation result. It is pure logic: it keeps no state and
// knows nothing of the journal; callers pass the day's trades and refunds.
package reconcile

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"

	"posagent/gateway"
)

// ErrBadBill is returned (wrapped) for a bill that cannot be read: not a
// zip, no business-detail file in it, a missing column, a bad amount. The
// message names the column and the line.
var ErrBadBill = errors.New("reconcile: bad bill")

// Business types (业务类型) of a row.
const (
	KindTrade  = "交易" // a payment
	KindRefund = "退款" // a refund (or the money a cancel gave back); amounts are negative
)

// DefaultMaxCSVBytes caps the decompressed business-detail CSV when
// Options.MaxCSVBytes is zero: far above any one terminal's day, low enough
// that a zip bomb cannot run the parse for ever.
const DefaultMaxCSVBytes = 1 << 30

// Row is one line of the business-detail list (业务明细). Amounts are fen;
// refund rows carry negative amounts, as the bill prints them. Text values
// are trimmed of the tabs and spaces the bill pads them with.
type Row struct {
	// Line is the row's line number in the CSV, 1-based.
	Line int `json:"line"`
	// TradeNo is 支付宝交易号.
	TradeNo string `json:"trade_no"`
	// OutTradeNo is 商户订单号 (on a refund row: the refunded trade's).
	OutTradeNo string `json:"out_trade_no"`
	// Kind is 业务类型: KindTrade, KindRefund or whatever else the bill says.
	Kind string `json:"type"`
	// Subject is 商品名称.
	Subject string `json:"subject,omitempty"`
	// CreatedAt and FinishedAt are 创建时间 and 完成时间,
	// "2006-01-02 15:04:05" Asia/Shanghai, as printed.
	CreatedAt  string `json:"created_at,omitempty"`
	FinishedAt string `json:"finished_at,omitempty"`
	// StoreID, OperatorID and TerminalID are 门店编号, 操作员, 终端号.
	StoreID    string `json:"store_id,omitempty"`
	OperatorID string `json:"operator_id,omitempty"`
	TerminalID string `json:"terminal_id,omitempty"`
	// Amount is 订单金额（元）: the trade's total_amount, or minus the refund.
	Amount gateway.Amount `json:"amount"`
	// Received is 商家实收（元）: what the merchant got (or gave back).
	Received gateway.Amount `json:"received"`
	// MerchantDiscount is 商家优惠（元）; zero when the column is absent.
	MerchantDiscount gateway.Amount `json:"merchant_discount"`
	// Fee is 服务费（元）; zero when the column is absent.
	Fee gateway.Amount `json:"fee"`
	// OutRequestNo is 退款批次号/请求号: the refund's out_request_no.
	OutRequestNo string `json:"out_request_no,omitempty"`
	// Note is 备注.
	Note string `json:"note,omitempty"`
}

// Options narrow a parse.
type Options struct {
	// Prefix keeps only the rows whose 商户订单号 starts with it (this
	// terminal's out_trade_no prefix). Default "": every row.
	Prefix string
	// MaxCSVBytes caps the decompressed CSV, in bytes. Default
	// DefaultMaxCSVBytes.
	MaxCSVBytes int64
}

// column is one column the parser reads: its header names (the first is
// the one errors use) and whether a bill without it is refused.
type column struct {
	names    []string
	required bool
}

// The columns, by index into columns.
const (
	colTradeNo = iota
	colOutTradeNo
	colKind
	colAmount
	colReceived
	colSubject
	colCreated
	colFinished
	colStore
	colOperator
	colTerminal
	colDiscount
	colFee
	colRequestNo
	colNote
	numColumns
)

var columns = [numColumns]column{
	colTradeNo:    {[]string{"支付宝交易号"}, true},
	colOutTradeNo: {[]string{"商户订单号"}, true},
	colKind:       {[]string{"业务类型"}, true},
	colAmount:     {[]string{"订单金额（元）"}, true},
	colReceived:   {[]string{"商家实收（元）"}, true},
	colSubject:    {[]string{"商品名称"}, false},
	colCreated:    {[]string{"创建时间"}, false},
	colFinished:   {[]string{"完成时间"}, false},
	colStore:      {[]string{"门店编号"}, false},
	colOperator:   {[]string{"操作员"}, false},
	colTerminal:   {[]string{"终端号"}, false},
	colDiscount:   {[]string{"商家优惠（元）"}, false},
	colFee:        {[]string{"服务费（元）"}, false},
	colRequestNo:  {[]string{"退款批次号/请求号", "退款批次号", "退款请求号"}, false},
	colNote:       {[]string{"备注"}, false},
}

// headerName normalises a header cell: trimmed, no BOM, ASCII parentheses
// made full-width, as the bill writes them.
func headerName(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "\ufeff")
	s = strings.ReplaceAll(s, "(", "（")
	return strings.ReplaceAll(s, ")", "）")
}

// ReadZip streams the business-detail rows of a bill zip to fn, in file
// order, keeping those that opts selects. The detail file is the entry
// whose name holds 业务明细 but not 汇总 (names are read as GBK when the
// zip does not mark them UTF-8, as Alipay's are not). It stops at fn's
// first error and returns it. Errors: ErrBadBill (wrapped) for a zip
// without a detail file or a malformed one.
func ReadZip(r io.ReaderAt, size int64, opts Options, fn func(Row) error) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("%w: not a zip: %v", ErrBadBill, err)
	}
	f, err := detailFile(zr)
	if err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("%w: open %s: %v", ErrBadBill, entryName(f), err)
	}
	defer rc.Close()
	if err := ReadCSV(rc, opts, fn); err != nil {
		return fmt.Errorf("%s: %w", entryName(f), err)
	}
	return nil
}

// ReadZipBytes is ReadZip over a bill held in memory (what Fetch returns),
// collecting the rows.
func ReadZipBytes(data []byte, opts Options) ([]Row, error) {
	var rows []Row
	err := ReadZip(bytes.NewReader(data), int64(len(data)), opts, func(r Row) error {
		rows = append(rows, r)
		return nil
	})
	return rows, err
}

// entryName is a zip entry's name as text, decoding GBK names.
func entryName(f *zip.File) string {
	name := f.Name
	if f.NonUTF8 || !utf8.ValidString(name) {
		if s, err := simplifiedchinese.GB18030.NewDecoder().String(name); err == nil {
			return s
		}
	}
	return name
}

// detailFile finds the business-detail CSV: the one entry named 业务明细
// and not 汇总 (the summary), else the one .csv entry that is not a summary.
func detailFile(zr *zip.Reader) (*zip.File, error) {
	var named, csvs []*zip.File
	var names []string
	for _, f := range zr.File {
		name := entryName(f)
		names = append(names, name)
		if f.FileInfo().IsDir() || strings.Contains(name, "汇总") {
			continue
		}
		if strings.Contains(name, "业务明细") {
			named = append(named, f)
		}
		if strings.HasSuffix(strings.ToLower(name), ".csv") {
			csvs = append(csvs, f)
		}
	}
	switch {
	case len(named) == 1:
		return named[0], nil
	case len(named) == 0 && len(csvs) == 1:
		return csvs[0], nil
	}
	return nil, fmt.Errorf("%w: want one business-detail (业务明细) CSV in the zip, found files %q", ErrBadBill, names)
}

// ReadCSV streams the rows of a business-detail CSV in GBK (GB18030) to fn:
// `#` lines and blank lines are skipped, the header is the first line that
// names 支付宝交易号 and 商户订单号, and columns are found by their header
// names, in any order. Errors: ErrBadBill (wrapped) naming a missing
// column, or the line and column of a bad amount; fn's first error.
func ReadCSV(r io.Reader, opts Options, fn func(Row) error) error {
	max := opts.MaxCSVBytes
	if max <= 0 {
		max = DefaultMaxCSVBytes
	}
	lr := &io.LimitedReader{R: r, N: max + 1}
	cr := csv.NewReader(transform.NewReader(lr, simplifiedchinese.GB18030.NewDecoder()))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.Comment = '#'
	cr.ReuseRecord = true

	var idx [numColumns]int // column → field index, -1 when absent
	haveHeader := false
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadBill, err)
		}
		line, _ := cr.FieldPos(0)
		if !haveHeader {
			if !isHeader(rec) {
				continue // a line before the header that is not a # line
			}
			if err := headerIndex(rec, line, &idx); err != nil {
				return err
			}
			haveHeader = true
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		row, err := parseRow(rec, line, &idx)
		if err != nil {
			return err
		}
		if opts.Prefix != "" && !strings.HasPrefix(row.OutTradeNo, opts.Prefix) {
			continue
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if lr.N <= 0 {
		return fmt.Errorf("%w: the CSV is larger than %d bytes", ErrBadBill, max)
	}
	if !haveHeader {
		return fmt.Errorf("%w: no header line naming %s and %s", ErrBadBill, columns[colTradeNo].names[0], columns[colOutTradeNo].names[0])
	}
	return nil
}

func isHeader(rec []string) bool {
	var trade, out bool
	for _, f := range rec {
		switch headerName(f) {
		case columns[colTradeNo].names[0]:
			trade = true
		case columns[colOutTradeNo].names[0]:
			out = true
		}
	}
	return trade && out
}

func headerIndex(rec []string, line int, idx *[numColumns]int) error {
	for c := range idx {
		idx[c] = -1
	}
	for i, f := range rec {
		name := headerName(f)
		for c, col := range columns {
			for _, n := range col.names {
				if name == n && idx[c] < 0 {
					idx[c] = i
				}
			}
		}
	}
	for c, col := range columns {
		if col.required && idx[c] < 0 {
			return fmt.Errorf("%w: line %d: the header has no column %s", ErrBadBill, line, col.names[0])
		}
	}
	return nil
}

// parseRow reads one data record. A record shorter than the header leaves
// the missing optional values empty; a missing required one is an error.
func parseRow(rec []string, line int, idx *[numColumns]int) (Row, error) {
	get := func(c int) string {
		i := idx[c]
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	row := Row{
		Line:         line,
		TradeNo:      get(colTradeNo),
		OutTradeNo:   get(colOutTradeNo),
		Kind:         get(colKind),
		Subject:      get(colSubject),
		CreatedAt:    get(colCreated),
		FinishedAt:   get(colFinished),
		StoreID:      get(colStore),
		OperatorID:   get(colOperator),
		TerminalID:   get(colTerminal),
		OutRequestNo: get(colRequestNo),
		Note:         get(colNote),
	}
	for _, a := range []struct {
		c        int
		dst      *gateway.Amount
		required bool
	}{
		{colAmount, &row.Amount, true},
		{colReceived, &row.Received, true},
		{colDiscount, &row.MerchantDiscount, false},
		{colFee, &row.Fee, false},
	} {
		v := get(a.c)
		if v == "" && !a.required {
			continue
		}
		amt, err := ParseSignedAmount(v)
		if err != nil {
			return Row{}, fmt.Errorf("%w: line %d: %s: %v", ErrBadBill, line, columns[a.c].names[0], err)
		}
		*a.dst = amt
	}
	return row, nil
}

// ParseSignedAmount reads a bill amount such as "25.00", "-3.50" or "0.1"
// into fen, exactly (never through a float). Errors wrap
// gateway.ErrBadAmount.
func ParseSignedAmount(s string) (gateway.Amount, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	a, err := gateway.ParseAmount(s)
	if err != nil {
		return 0, err
	}
	if neg {
		a = -a
	}
	return a, nil
}
