package gateway

import (
	"context"
	"time"
)

// Bill types of alipay.data.dataservice.bill.downloadurl.query.
const (
	BillTypeTrade        = "trade"        // the merchant's trades (业务明细): what reconciliation reads
	BillTypeSignCustomer = "signcustomer" // the account's money movements (账务明细)
)

// SubBillNotExist is the sub_code of a bill that does not exist (yet): the
// real gateway serves a day's bill from the next day on.
const SubBillNotExist = "isp.bill_not_exist"

// BillDownloadURLQueryRequest is the biz_content of
// alipay.data.dataservice.bill.downloadurl.query.
type BillDownloadURLQueryRequest struct {
	// BillType is "trade" or "signcustomer". Required.
	BillType string `json:"bill_type"`
	// BillDate is a day "2006-01-02" (daily bill) or a month "2006-01"
	// (monthly bill). Required.
	BillDate string `json:"bill_date"`
	// Smid is the secondary merchant of a service provider. Optional, ≤32.
	Smid string `json:"smid,omitempty"`
}

// Validate checks the request as the API documents it.
func (r *BillDownloadURLQueryRequest) Validate() error {
	var c checker
	c.str("bill_type", r.BillType, true, 20)
	if r.BillType != "" && r.BillType != BillTypeTrade && r.BillType != BillTypeSignCustomer {
		c.fail("bill_type", "must be trade or signcustomer")
	}
	c.str("bill_date", r.BillDate, true, 15)
	if r.BillDate != "" {
		_, dayErr := time.Parse(time.DateOnly, r.BillDate)
		_, monthErr := time.Parse("2006-01", r.BillDate)
		if dayErr != nil && monthErr != nil {
			c.fail("bill_date", "must be a day YYYY-MM-DD or a month YYYY-MM")
		}
	}
	c.str("smid", r.Smid, false, 32)
	return c.result()
}

// BillDownloadURLQueryResponse carries the bill's download address.
type BillDownloadURLQueryResponse struct {
	Common
	// BillDownloadURL is where the zipped bill can be fetched, for a short
	// time only (the real gateway's links last 30 s).
	BillDownloadURL string `json:"bill_download_url,omitempty"`
	// BillFileCode is set instead of a URL for some bill kinds. Optional.
	BillFileCode string `json:"bill_file_code,omitempty"`
}

// BillDownloadURLQuery calls alipay.data.dataservice.bill.downloadurl.query.
// A bill that is not ready (today's, a future day's) or a day without
// business is a Failure with sub_code isp.bill_not_exist (SubBillNotExist).
func (c *Client) BillDownloadURLQuery(ctx context.Context, req BillDownloadURLQueryRequest) (*BillDownloadURLQueryResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, &Error{Method: MethodBillDownloadURLQuery, Kind: Invalid, Err: err}
	}
	var resp BillDownloadURLQueryResponse
	err := c.call(ctx, MethodBillDownloadURLQuery, &req, &resp)
	return &resp, err
}
