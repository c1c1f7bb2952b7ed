package reconcile_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"posagent/gateway"
	"posagent/reconcile"
)

const sampleZip = "testdata/20880211096256330156_20261203.csv.zip"

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestSampleBill(t *testing.T) {
	data := readFile(t, sampleZip)
	all, err := reconcile.ReadZipBytes(data, reconcile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 7 {
		t.Fatalf("%d rows, want 7: %+v", len(all), all)
	}
	rows, err := reconcile.ReadZipBytes(data, reconcile.Options{Prefix: "T01_"})
	if err != nil {
		t.Fatal(err)
	}
	want := []reconcile.Row{
		{Line: 6, TradeNo: "2026120322001400010000000001", OutTradeNo: "T01_20261203091502117_a1b2c3d4e5", Kind: reconcile.KindTrade,
			Subject: "矿泉水 550ml", CreatedAt: "2026-12-03 09:15:02", FinishedAt: "2026-12-03 09:15:04", StoreID: "S001", OperatorID: "op7",
			TerminalID: "T01", Amount: 2500, Received: 2500, Fee: -15},
		{Line: 7, TradeNo: "2026120322001400010000000002", OutTradeNo: "T01_20261203101133004_f6g7h8i9j0", Kind: reconcile.KindTrade,
			Subject: "可乐,雪碧 套餐", CreatedAt: "2026-12-03 10:11:33", FinishedAt: "2026-12-03 10:11:35", StoreID: "S001", OperatorID: "op7",
			TerminalID: "T01", Amount: 1250, Received: 1250, Fee: -8, Note: "第二单"},
		{Line: 9, TradeNo: "2026120322001400010000000001", OutTradeNo: "T01_20261203091502117_a1b2c3d4e5", Kind: reconcile.KindRefund,
			Subject: "矿泉水 550ml", CreatedAt: "2026-12-03 09:15:02", FinishedAt: "2026-12-03 14:20:10", StoreID: "S001", OperatorID: "op7",
			TerminalID: "T01", Amount: -500, Received: -500, Fee: 3, OutRequestNo: "T01_R20261203142009881_k1", Note: "退货"},
		{Line: 10, TradeNo: "2026120322001400010000000004", OutTradeNo: "T01_20261203153045660_p1q2r3s4t5", Kind: reconcile.KindTrade,
			Subject: "咖啡豆 1kg", CreatedAt: "2026-12-03 15:30:45", FinishedAt: "2026-12-03 15:30:50", StoreID: "S001", OperatorID: "op8",
			TerminalID: "T01", Amount: 199999, Received: 199999, Fee: -1200},
		{Line: 11, TradeNo: "2026120322001400010000000004", OutTradeNo: "T01_20261203153045660_p1q2r3s4t5", Kind: reconcile.KindRefund,
			Subject: "咖啡豆 1kg", CreatedAt: "2026-12-03 15:30:45", FinishedAt: "2026-12-03 16:02:11", StoreID: "S001", OperatorID: "op8",
			TerminalID: "T01", Amount: -199999, Received: -199999, Fee: 1200, OutRequestNo: "T01_R20261203160210007_k2"},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d T01 rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, rows[i], want[i])
		}
	}

	// The detail CSV alone reads the same.
	var n int
	err = reconcile.ReadCSV(bytes.NewReader(readFile(t, "testdata/detail.gbk.csv")), reconcile.Options{Prefix: "T01_"}, func(r reconcile.Row) error {
		if r != want[n] {
			t.Errorf("csv row %d: %+v", n, r)
		}
		n++
		return nil
	})
	if err != nil || n != len(want) {
		t.Fatalf("ReadCSV: %d rows, %v", n, err)
	}
}

// gbkCSV encodes lines as a GBK CSV.
func gbkCSV(tb testing.TB, lines ...string) []byte {
	tb.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(strings.Join(lines, "\r\n") + "\r\n"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func readCSV(tb testing.TB, data []byte, opts reconcile.Options) ([]reconcile.Row, error) {
	tb.Helper()
	var rows []reconcile.Row
	err := reconcile.ReadCSV(bytes.NewReader(data), opts, func(r reconcile.Row) error {
		rows = append(rows, r)
		return nil
	})
	return rows, err
}

func TestColumnsFoundByName(t *testing.T) {
	// Another order, ASCII parentheses, fewer columns, blank lines, no # preamble.
	data := gbkCSV(t,
		"",
		"业务类型, 终端号 ,订单金额(元),商户订单号,退款批次号,支付宝交易号,商家实收(元)",
		"退款\t,T01\t,-1.10\t,T01_x\t,R_1\t,2026\t,-1.10",
		"",
		"交易,T01,3,T01_y,,2027,3.00",
		"#-----业务明细列表结束-----",
	)
	rows, err := readCSV(t, data, reconcile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Kind != reconcile.KindRefund || rows[0].Amount != -110 || rows[0].OutRequestNo != "R_1" ||
		rows[0].TradeNo != "2026" || rows[0].TerminalID != "T01" || rows[1].Amount != 300 || rows[1].Line != 5 {
		t.Fatalf("rows %+v", rows)
	}
}

func TestBadBills(t *testing.T) {
	header := "支付宝交易号,商户订单号,业务类型,订单金额（元）,商家实收（元）"
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"missing column", gbkCSV(t, "支付宝交易号,商户订单号,业务类型,订单金额（元）", "1,T,交易,1.00"), "no column 商家实收（元）"},
		{"no header", gbkCSV(t, "#支付宝业务明细查询", "a,b,c"), "no header line"},
		{"bad amount", gbkCSV(t, "#x", header, "1,T,交易,1.00,1.00", "2,T,交易,1.001,1.00"), "line 4: 订单金额（元）"},
		{"float amount", gbkCSV(t, header, "1,T,交易,1e3,1.00"), "line 2: 订单金额（元）"},
		{"empty amount", gbkCSV(t, header, "1,T,交易,1.00,"), "line 2: 商家实收（元）"},
		{"short row", gbkCSV(t, header, "1,T,交易"), "line 2: 订单金额（元）"},
		{"bad fee", gbkCSV(t, header+",服务费（元）", "1,T,交易,1.00,1.00,x"), "line 2: 服务费（元）"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readCSV(t, tc.data, reconcile.Options{})
			if !errors.Is(err, reconcile.ErrBadBill) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrBadBill naming %q", err, tc.want)
			}
		})
	}
	t.Run("size cap", func(t *testing.T) {
		_, err := readCSV(t, gbkCSV(t, header, "1,T,交易,1.00,1.00"), reconcile.Options{MaxCSVBytes: 20})
		if !errors.Is(err, reconcile.ErrBadBill) || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("fn error stops", func(t *testing.T) {
		stop := errors.New("stop")
		err := reconcile.ReadCSV(bytes.NewReader(gbkCSV(t, header, "1,T,交易,1.00,1.00", "2,T,交易,1.00,1.00")), reconcile.Options{},
			func(reconcile.Row) error { return stop })
		if err != stop {
			t.Fatalf("err = %v", err)
		}
	})
}

// zipOf builds a zip of the named files; gbkNames writes the names in GBK
// without the UTF-8 flag, as Alipay does.
func zipOf(tb testing.TB, gbkNames bool, files ...[2]string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		name := f[0]
		if gbkNames {
			var err error
			if name, err = simplifiedchinese.GBK.NewEncoder().String(name); err != nil {
				tb.Fatal(err)
			}
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, NonUTF8: gbkNames})
		if err != nil {
			tb.Fatal(err)
		}
		io.WriteString(w, f[1])
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestZipFindsTheDetailFile(t *testing.T) {
	detail := string(gbkCSV(t, "支付宝交易号,商户订单号,业务类型,订单金额（元）,商家实收（元）", "1,T01_a,交易,2.00,2.00"))
	summary := string(gbkCSV(t, "#支付宝业务汇总查询", "门店编号,订单金额（元）", "合计,2.00"))
	for _, tc := range []struct {
		name  string
		data  []byte
		rows  int
		wantE bool
	}{
		{"gbk names, summary first", zipOf(t, true, [2]string{"2088_20261203_业务明细(汇总).csv", summary}, [2]string{"2088_20261203_业务明细.csv", detail}), 1, false},
		{"utf-8 names", zipOf(t, false, [2]string{"2088_20261203_业务明细.csv", detail}, [2]string{"2088_20261203_业务明细(汇总).csv", summary}), 1, false},
		{"one plain csv", zipOf(t, false, [2]string{"bill.csv", detail}), 1, false},
		{"only a summary", zipOf(t, true, [2]string{"x_业务明细(汇总).csv", summary}), 0, true},
		{"two details", zipOf(t, false, [2]string{"a_业务明细.csv", detail}, [2]string{"b_业务明细.csv", detail}), 0, true},
		{"empty zip", zipOf(t, false), 0, true},
		{"not a zip", []byte("PK but not really"), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := reconcile.ReadZipBytes(tc.data, reconcile.Options{})
			if tc.wantE {
				if !errors.Is(err, reconcile.ErrBadBill) {
					t.Fatalf("err = %v, want ErrBadBill", err)
				}
				return
			}
			if err != nil || len(rows) != tc.rows {
				t.Fatalf("rows %+v, err %v", rows, err)
			}
		})
	}
}

func TestParseSignedAmount(t *testing.T) {
	for in, want := range map[string]gateway.Amount{"0": 0, "0.01": 1, "-0.01": -1, "25": 2500, "-1999.99": -199999, "100000000.00": gateway.MaxAmount} {
		if got, err := reconcile.ParseSignedAmount(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-", "--1", "+1", "1.001", "1e2", "0x10", " 1", "1,000.00", "NaN"} {
		if got, err := reconcile.ParseSignedAmount(in); !errors.Is(err, gateway.ErrBadAmount) {
			t.Errorf("%q: %v %v, want ErrBadAmount", in, got, err)
		}
	}
}

// FuzzReadCSV feeds arbitrary bytes to the parser: it must never panic,
// and every row it yields passed its amount checks.
func FuzzReadCSV(f *testing.F) {
	f.Add(readFile(f, "testdata/detail.gbk.csv"))
	f.Add(gbkCSV(f, "支付宝交易号,商户订单号,业务类型,订单金额（元）,商家实收（元）", "1,T01_a,交易,2.00,2.00", `2,"T01_b,x",退款,-2.00,-2.00`))
	f.Add(gbkCSV(f, "支付宝交易号,商户订单号", "1"))
	f.Add([]byte("\xff\xfe\x00,\"\n#"))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := reconcile.ReadCSV(bytes.NewReader(data), reconcile.Options{MaxCSVBytes: 1 << 20}, func(r reconcile.Row) error {
			if r.Amount > gateway.MaxAmount || r.Amount < -gateway.MaxAmount || r.Line < 1 {
				t.Fatalf("row %+v", r)
			}
			return nil
		})
		if err != nil && !errors.Is(err, reconcile.ErrBadBill) {
			t.Fatalf("error %v is not ErrBadBill", err)
		}
	})
}

// FuzzReadZip feeds arbitrary bytes as a zip.
func FuzzReadZip(f *testing.F) {
	f.Add(readFile(f, sampleZip))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := reconcile.ReadZipBytes(data, reconcile.Options{MaxCSVBytes: 1 << 20})
		if err != nil && !errors.Is(err, reconcile.ErrBadBill) {
			t.Fatalf("error %v is not ErrBadBill", err)
		}
	})
}

// bigBill writes a zipped bill of n trade rows (every tenth followed by a
// refund row), half of them another terminal's, in the real layout.
func bigBill(tb testing.TB, n int) []byte {
	tb.Helper()
	var csv bytes.Buffer
	csv.WriteString("#支付宝业务明细查询\r\n#账号：[20880211096256330156]\r\n#起始日期：[2026年12月03日 00:00:00]   终止日期：[2026年12月04日 00:00:00]\r\n" +
		"#-----------------------------------------业务明细列表----------------------------------------\r\n" +
		"支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\r\n")
	for i := 0; i < n; i++ {
		term := "T01"
		if i%2 == 1 {
			term = "T02"
		}
		amt := gateway.Amount(100 + i%50000)
		fmt.Fprintf(&csv, "20261203220014%014d\t,%s_20261203%09d_abcdefghij\t,交易\t,商品,2026-12-03 09:15:02,2026-12-03 09:15:04,S001\t,旗舰店\t,op7\t,%s\t,*明(138******12)\t,%s,%s,0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,\t,-0.15,0.00,\r\n",
			i, term, i, term, amt, amt)
		if i%10 == 0 {
			fmt.Fprintf(&csv, "20261203220014%014d\t,%s_20261203%09d_abcdefghij\t,退款\t,商品,2026-12-03 09:15:02,2026-12-03 10:15:04,S001\t,旗舰店\t,op7\t,%s\t,*明(138******12)\t,-%s,-%s,0.00,0.00,0.00,0.00,0.00,,0.00\t,0.00,%s_R%09d\t,0.15,0.00,\r\n",
				i, term, i, term, gateway.Amount(1), gateway.Amount(1), term, i)
		}
	}
	csv.WriteString("#-----------------------------------------业务明细列表结束------------------------------------\r\n#导出时间：[2026年12月04日 09:12:01]\r\n")
	gbk, err := simplifiedchinese.GBK.NewEncoder().Bytes(csv.Bytes())
	if err != nil {
		tb.Fatal(err)
	}
	return zipOf(tb, false, [2]string{"2088_20261203_业务明细.csv", string(gbk)})
}

// BenchmarkReadZip100k parses a bill of 100,000 trade rows (plus 10,000
// refund rows), keeping this terminal's half. Memory per op is what the
// parse allocates; the rows are streamed, not collected.
func BenchmarkReadZip100k(b *testing.B) {
	data := bigBill(b, 100_000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		rows = 0
		err := reconcile.ReadZip(bytes.NewReader(data), int64(len(data)), reconcile.Options{Prefix: "T01_"}, func(reconcile.Row) error {
			rows++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if rows != 60_000 {
		b.Fatalf("%d rows", rows)
	}
	b.ReportMetric(float64(110_000*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(peakHeap(func() {
		reconcile.ReadZip(bytes.NewReader(data), int64(len(data)), reconcile.Options{Prefix: "T01_"}, func(reconcile.Row) error { return nil })
	}))/(1<<20), "peak-heap-MiB")
}

// peakHeap runs fn and returns the largest live heap (object bytes) seen
// by a sampler every 200 µs while it ran, above the heap before it: the
// memory a streamed parse holds, which must not grow with the bill.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}
