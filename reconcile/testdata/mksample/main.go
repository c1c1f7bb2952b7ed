// Command mksample writes the committed sample bill of the reconcile tests:
// a zip in the layout of Alipay's daily trade bill (业务明细 and its 汇总),
// GBK-encoded, with GBK file names not flagged UTF-8, as Alipay sends it.
//
//	go run ./reconcile/testdata/mksample   (from the module root)
//
// The rows: terminal T01's trades, a partial and a full refund, one row with
// a quoted subject holding a comma, values padded with tabs and spaces as
// real bills are, and another terminal's (T02) rows that a parse filtered
// to the T01_ prefix must skip.
package main

import (
	"archive/zip"
	"log"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/encoding/simplifiedchinese"
)

const detail = `#支付宝业务明细查询
#账号：[20880211096256330156]
#起始日期：[2026年12月03日 00:00:00]   终止日期：[2026年12月04日 00:00:00]
#-----------------------------------------业务明细列表----------------------------------------
支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注
2026120322001400010000000001	,T01_20261203091502117_a1b2c3d4e5	,交易	,矿泉水 550ml,2026-12-03 09:15:02,2026-12-03 09:15:04,S001	,旗舰店	,op7	,T01	,*明(138******12)	,25.00,25.00,0.00,0.00,0.00,0.00,0.00,,0.00	,0.00,	,-0.15,0.00,
2026120322001400010000000002	,T01_20261203101133004_f6g7h8i9j0	,交易	,"可乐,雪碧 套餐",2026-12-03 10:11:33,2026-12-03 10:11:35,S001	,旗舰店	,op7	,T01	,*华(139******88)	,  12.50 ,12.50,0.00,0.00,0.00,0.00,0.00,,0.00	,0.00,	,-0.08,0.00,第二单
2026120322001400010000000003	,T02_20261203101500000_zzzzzzzzzz	,交易	,面包,2026-12-03 10:15:00,2026-12-03 10:15:01,S001	,旗舰店	,op9	,T02	,*李(137******03)	,8.00,8.00,0.00,0.00,0.00,0.00,0.00,,0.00	,0.00,	,-0.05,0.00,
2026120322001400010000000001	,T01_20261203091502117_a1b2c3d4e5	,退款	,矿泉水 550ml,2026-12-03 09:15:02,2026-12-03 14:20:10,S001	,旗舰店	,op7	,T01	,*明(138******12)	,-5.00,-5.00,0.00,0.00,0.00,0.00,0.00,,0.00	,0.00,T01_R20261203142009881_k1	,0.03,0.00,退货
2026120322001400010000000004	,T01_20261203153045660_p1q2r3s4t5	,交易	,咖啡豆 1kg,2026-12-03 15:30:45,2026-12-03 15:30:50,S001	,旗舰店	,op8	,T01	,*王(186******41)	,1999.99,1999.99,0.00,0.00,0.00,0.00,0.00,,0.00	,0.00,	,-12.00,0.00,
2026120322001400010000000004	,T01_20261203153045660_p1q2r3s4t5	,退款	,咖啡豆 1kg,2026-12-03 15:30:45,2026-12-03 16:02:11,S001	,旗舰店	,op8	,T01	,*王(186******41)	,-1999.99,-1999.99,0.00,0.00,0.00,0.00,0.00,,0.00	,0.00,T01_R20261203160210007_k2	,12.00,0.00,
2026120322001400010000000003	,T02_20261203101500000_zzzzzzzzzz	,退款	,面包,2026-12-03 10:15:00,2026-12-03 18:00:00,S001	,旗舰店	,op9	,T02	,*李(137******03)	,-8.00,-8.00,0.00,0.00,0.00,0.00,0.00,,0.00	,0.00,T02_R1	,0.05,0.00,
#-----------------------------------------业务明细列表结束------------------------------------
#交易合计：4笔，商家实收共2045.49元，商家优惠共0.00元
#退款合计：3笔，商家实收退款共-2012.99元，商家优惠退款共0.00元
#导出时间：[2026年12月04日 09:12:01]
`

const summary = `#支付宝业务汇总查询
#账号：[20880211096256330156]
#起始日期：[2026年12月03日 00:00:00]   终止日期：[2026年12月04日 00:00:00]
#-----------------------------------------业务汇总列表----------------------------------------
门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）
S001	,旗舰店	,4,3,32.50,32.50,0.00,0.00,0.00,-0.20,0.00,32.30
合计,,4,3,32.50,32.50,0.00,0.00,0.00,-0.20,0.00,32.30
#-----------------------------------------业务汇总列表结束-----------------------------------
#导出时间：[2026年12月04日 09:12:01]
`

func gbk(s string) []byte {
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(strings.ReplaceAll(s, "\n", "\r\n")))
	if err != nil {
		log.Fatal(err)
	}
	return b
}

func main() {
	dir := filepath.Join("reconcile", "testdata")
	const base = "20880211096256330156_20261203"
	detailGBK := gbk(detail)
	if err := os.WriteFile(filepath.Join(dir, "detail.gbk.csv"), detailGBK, 0o644); err != nil {
		log.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, base+".csv.zip"))
	if err != nil {
		log.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, e := range []struct {
		name string
		body []byte
	}{
		{base + "_业务明细.csv", detailGBK},
		{base + "_业务明细(汇总).csv", gbk(summary)},
	} {
		name, err := simplifiedchinese.GBK.NewEncoder().String(e.name)
		if err != nil {
			log.Fatal(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, NonUTF8: true})
		if err != nil {
			log.Fatal(err)
		}
		if _, err := w.Write(e.body); err != nil {
			log.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
