package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"posagent/gateway"
)

// Defaults of Fetch.
const (
	// DefaultFetchTimeout bounds a download whose ctx has no deadline.
	DefaultFetchTimeout = 2 * time.Minute
	// DefaultMaxBillBytes is the size cap when maxBytes is 0: a zipped day
	// of a busy store is a few MB.
	DefaultMaxBillBytes = 64 << 20
)

// FetchMethod is the Method of the *gateway.Error that Fetch returns.
const FetchMethod = "bill download"

// ErrBillTooLarge is returned (wrapped) when the bill is larger than the cap.
var ErrBillTooLarge = errors.New("reconcile: bill larger than the size cap")

// ErrDownload is returned (wrapped) when the bill server answered, but not
// with the bill (an HTTP error status, e.g. an expired link).
var ErrDownload = errors.New("reconcile: bill download refused")

var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
	IdleConnTimeout:       30 * time.Second,
}}

// Fetch downloads the bill zip at url (bill_download_url) with client
// (nil: a default client with connect and header timeouts; pass the
// gateway client's HTTPClient for an in-process sandbox) and returns its
// bytes, at most maxBytes of them (0: DefaultMaxBillBytes). If ctx has no
// deadline, DefaultFetchTimeout applies.
//
// Errors, all wrapped in a *gateway.Error with Method FetchMethod and Kind
// Unknown so callers treat them as they treat the gateway's: a network
// error or timeout, before or during the body, is unreachability
// (gateway.IsUnreachable is true); an HTTP status other than 200 wraps
// ErrDownload, a body over the cap ErrBillTooLarge (both also wrap
// gateway.ErrBadReply: the server was reached, IsUnreachable is false).
func Fetch(ctx context.Context, client *http.Client, url string, maxBytes int64) ([]byte, error) {
	if client == nil {
		client = defaultClient
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBillBytes
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultFetchTimeout)
		defer cancel()
	}
	fail := func(err error) error {
		return &gateway.Error{Method: FetchMethod, Kind: gateway.Unknown, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &gateway.Error{Method: FetchMethod, Kind: gateway.Invalid, Err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fail(fmt.Errorf("%w: %w: HTTP %s", ErrDownload, gateway.ErrBadReply, resp.Status))
	}
	if resp.ContentLength > maxBytes {
		return nil, fail(fmt.Errorf("%w: %w: %d bytes announced, cap %d", ErrBillTooLarge, gateway.ErrBadReply, resp.ContentLength, maxBytes))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, fail(fmt.Errorf("read bill: %w", err))
	}
	if int64(len(body)) > maxBytes {
		return nil, fail(fmt.Errorf("%w: %w: cap %d bytes", ErrBillTooLarge, gateway.ErrBadReply, maxBytes))
	}
	return body, nil
}

// ErrBillNotExist is returned (wrapped, beside the gateway's *gateway.Error)
// by DayBill when the gateway has no bill for the day (isp.bill_not_exist):
// not ready yet, or a day without business. The reconciliation is then
// StateUnavailable and is tried again later.
var ErrBillNotExist = errors.New("reconcile: no bill for that day (isp.bill_not_exist)")

// DayBill asks gw for the trade bill of day (YYYY-MM-DD, Asia/Shanghai),
// downloads it with gw.HTTPClient (nil: Fetch's default client; an
// in-process sandbox's client carries its own) capped at maxBytes (0:
// DefaultMaxBillBytes), and returns its business-detail rows that opts
// selects (opts.Prefix: this terminal's out_trade_no prefix).
//
// Errors: ErrBillNotExist; the gateway's errors as gateway.Client returns
// them (gateway.KindOf, gateway.IsUnreachable apply); Fetch's errors;
// ErrBadBill for a bill that cannot be read.
func DayBill(ctx context.Context, gw *gateway.Client, day string, opts Options, maxBytes int64) ([]Row, error) {
	resp, err := gw.BillDownloadURLQuery(ctx, gateway.BillDownloadURLQueryRequest{BillType: gateway.BillTypeTrade, BillDate: day})
	if err != nil {
		if gateway.KindOf(err) == gateway.Failure && gateway.SubCodeOf(err) == gateway.SubBillNotExist {
			return nil, fmt.Errorf("%w: %w", ErrBillNotExist, err)
		}
		return nil, err
	}
	if resp.BillDownloadURL == "" {
		return nil, &gateway.Error{Method: gateway.MethodBillDownloadURLQuery, Kind: gateway.Unknown,
			Err: fmt.Errorf("%w: 10000 without bill_download_url", gateway.ErrBadReply)}
	}
	data, err := Fetch(ctx, gw.HTTPClient, resp.BillDownloadURL, maxBytes)
	if err != nil {
		return nil, err
	}
	return ReadZipBytes(data, opts)
}
