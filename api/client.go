package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/queue"
	"posagent/reconcile"
)

// DefaultClientTimeout bounds one call of a Client, on top of a ?wait hold.
const DefaultClientTimeout = 30 * time.Second

// Client calls the local API of a running posagent. Set the fields, then
// use it from any number of goroutines.
type Client struct {
	// BaseURL is the daemon's address, e.g. "http://127.0.0.1:8089".
	// Required.
	BaseURL string
	// Token is the bearer token (ReadToken). Required for every call but
	// Health.
	Token string
	// HTTPClient sends the requests. Default http.DefaultClient.
	HTTPClient *http.Client
	// Timeout bounds each call (a GetCheckout wait is added to it).
	// Default 30 s.
	Timeout time.Duration
}

// NewClient returns a client of the daemon at baseURL.
func NewClient(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token}
}

// NotRunningError is returned when nothing answers at the daemon's address:
// the daemon is not running, or listens elsewhere.
type NotRunningError struct {
	// Addr is the host:port that was dialled.
	Addr string
	// Err is the dial error.
	Err error
}

func (e *NotRunningError) Error() string {
	reason := e.Err.Error()
	var sc *os.SyscallError
	switch {
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		reason = "connection refused"
	case errors.As(e.Err, &sc):
		reason = sc.Err.Error()
	}
	return fmt.Sprintf("posagent is not running at %s (%s)", e.Addr, reason)
}

func (e *NotRunningError) Unwrap() error { return e.Err }

// CreateCheckoutRequest is the body of POST /v1/checkouts.
type CreateCheckoutRequest struct {
	OrderID    string         `json:"order_id"`
	Amount     gateway.Amount `json:"amount"`
	Subject    string         `json:"subject"`
	OperatorID string         `json:"operator_id,omitempty"`
	// AuthCode is a payment code the register scanned itself.
	AuthCode string `json:"auth_code,omitempty"`
}

// CreateCheckout starts a checkout; created is false when the daemon
// answered 200 with an existing checkout of the same order and amount.
func (c *Client) CreateCheckout(ctx context.Context, req CreateCheckoutRequest) (co checkout.Checkout, created bool, err error) {
	status, err := c.do(ctx, http.MethodPost, "/v1/checkouts", nil, req, &co, 0)
	return co, status == http.StatusCreated, err
}

// GetCheckout returns checkout id; with wait > 0 (at most MaxWait) the
// daemon holds the reply until the checkout is terminal or wait is up.
func (c *Client) GetCheckout(ctx context.Context, id string, wait time.Duration) (checkout.Checkout, error) {
	return c.WaitCheckout(ctx, id, wait, time.Time{})
}

// WaitCheckout is GetCheckout that, with since set to the updated_at last
// seen, answers as soon as the checkout changed (SPEC §6: ?wait=&since=),
// so a register can show a rejected scan at once.
func (c *Client) WaitCheckout(ctx context.Context, id string, wait time.Duration, since time.Time) (checkout.Checkout, error) {
	q := url.Values{}
	if wait > 0 {
		q.Set("wait", wait.String())
		if !since.IsZero() {
			q.Set("since", since.Format(time.RFC3339Nano))
		}
	}
	var co checkout.Checkout
	_, err := c.do(ctx, http.MethodGet, "/v1/checkouts/"+url.PathEscape(id), q, nil, &co, wait)
	return co, err
}

// ListCheckouts returns checkouts newest first; f.Before pages.
func (c *Client) ListCheckouts(ctx context.Context, f checkout.ListFilter) ([]checkout.Checkout, error) {
	q := url.Values{}
	set(q, "state", string(f.State))
	set(q, "before", f.Before)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out Items[checkout.Checkout]
	_, err := c.do(ctx, http.MethodGet, "/v1/checkouts", q, nil, &out, 0)
	return out.Items, err
}

// CancelCheckout abandons or cancels checkout id.
func (c *Client) CancelCheckout(ctx context.Context, id string) (checkout.Checkout, error) {
	var co checkout.Checkout
	_, err := c.do(ctx, http.MethodPost, "/v1/checkouts/"+url.PathEscape(id)+"/cancel", nil, nil, &co, 0)
	return co, err
}

// ListJobs returns jobs newest first.
func (c *Client) ListJobs(ctx context.Context, f queue.Filter) ([]queue.Job, error) {
	q := url.Values{}
	set(q, "state", f.State)
	set(q, "kind", f.Kind)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Before > 0 {
		q.Set("before", strconv.FormatUint(f.Before, 10))
	}
	var out Items[queue.Job]
	_, err := c.do(ctx, http.MethodGet, "/v1/jobs", q, nil, &out, 0)
	return out.Items, err
}

// GetJob returns job id.
func (c *Client) GetJob(ctx context.Context, id uint64) (queue.Job, error) {
	var j queue.Job
	_, err := c.do(ctx, http.MethodGet, "/v1/jobs/"+strconv.FormatUint(id, 10), nil, nil, &j, 0)
	return j, err
}

// RetryJob runs job id again now and returns it.
func (c *Client) RetryJob(ctx context.Context, id uint64) (queue.Job, error) {
	var j queue.Job
	_, err := c.do(ctx, http.MethodPost, "/v1/jobs/"+strconv.FormatUint(id, 10)+"/retry", nil, nil, &j, 0)
	return j, err
}

// DropJob deletes job id and returns it as it was.
func (c *Client) DropJob(ctx context.Context, id uint64) (queue.Job, error) {
	var j queue.Job
	_, err := c.do(ctx, http.MethodDelete, "/v1/jobs/"+strconv.FormatUint(id, 10), nil, nil, &j, 0)
	return j, err
}

// ImportCoupons imports coupons (their State must be empty).
func (c *Client) ImportCoupons(ctx context.Context, coupons []checkout.Coupon) (checkout.ImportResult, error) {
	if coupons == nil {
		coupons = []checkout.Coupon{}
	}
	var res checkout.ImportResult
	_, err := c.do(ctx, http.MethodPost, "/v1/coupons", nil, coupons, &res, 0)
	return res, err
}

// ImportCouponsJSON sends a JSON array of coupons as it is (a file an
// operator wrote), so that the daemon validates it.
func (c *Client) ImportCouponsJSON(ctx context.Context, array []byte) (checkout.ImportResult, error) {
	var res checkout.ImportResult
	_, err := c.do(ctx, http.MethodPost, "/v1/coupons", nil, json.RawMessage(array), &res, 0)
	return res, err
}

// ListCoupons returns the coupons of userID (all when empty).
func (c *Client) ListCoupons(ctx context.Context, userID string) ([]checkout.Coupon, error) {
	q := url.Values{}
	set(q, "user_id", userID)
	var out Items[checkout.Coupon]
	_, err := c.do(ctx, http.MethodGet, "/v1/coupons", q, nil, &out, 0)
	return out.Items, err
}

// Consult calls scene.cooperation.consult through the daemon.
func (c *Client) Consult(ctx context.Context, req ConsultRequest) (ConsultReply, error) {
	var out ConsultReply
	_, err := c.do(ctx, http.MethodPost, "/v1/consult", nil, req, &out, 0)
	return out, err
}

// Award receives an invite award through the daemon. A reply with Queued
// true (HTTP 202) means the award is queued and will be sent when the
// gateway answers; a failed award is an *Error with status 422.
func (c *Client) Award(ctx context.Context, req AwardRequest) (AwardReply, error) {
	var out AwardReply
	_, err := c.do(ctx, http.MethodPost, "/v1/awards", nil, req, &out, 0)
	return out, err
}

// Agreements lists the agreements of userID.
func (c *Client) Agreements(ctx context.Context, userID string, aq AgreementsQuery) ([]gateway.Agreement, error) {
	q := url.Values{}
	set(q, "personal_product_code", aq.PersonalProductCode)
	set(q, "sign_scene", aq.SignScene)
	set(q, "third_party_type", aq.ThirdPartyType)
	set(q, "product_code", aq.ProductCode)
	var out Items[gateway.Agreement]
	_, err := c.do(ctx, http.MethodGet, "/v1/users/"+url.PathEscape(userID)+"/agreements", q, nil, &out, 0)
	return out.Items, err
}

// Status returns GET /v1/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	_, err := c.do(ctx, http.MethodGet, "/v1/status", nil, nil, &st, 0)
	return st, err
}

// DailyReport returns GET /v1/reports/daily: the takings of day
// ("2006-01-02"; "" for the store's today).
func (c *Client) DailyReport(ctx context.Context, day string) (checkout.DailyReport, error) {
	q := url.Values{}
	set(q, "date", day)
	var rep checkout.DailyReport
	_, err := c.do(ctx, http.MethodGet, "/v1/reports/daily", q, nil, &rep, 0)
	return rep, err
}

// Reconcile calls POST /v1/reconciliations for day; queued is true when
// the daemon answered 202 (unavailable or pending: its queue runs it
// again).
func (c *Client) Reconcile(ctx context.Context, day string) (res reconcile.Result, queued bool, err error) {
	status, err := c.do(ctx, http.MethodPost, "/v1/reconciliations", nil, ReconcileRequest{Date: day}, &res, ReconcileTimeout)
	return res, status == http.StatusAccepted, err
}

// Reconciliation returns GET /v1/reconciliations/{day}: the stored result
// (an *Error with Status 404 when the day was never reconciled).
func (c *Client) Reconciliation(ctx context.Context, day string) (reconcile.Result, error) {
	var res reconcile.Result
	_, err := c.do(ctx, http.MethodGet, "/v1/reconciliations/"+url.PathEscape(day), nil, nil, &res, 0)
	return res, err
}

// Health calls GET /healthz, which needs no token: nil when the daemon is up.
func (c *Client) Health(ctx context.Context) error {
	var out map[string]bool
	_, err := c.do(ctx, http.MethodGet, "/healthz", nil, nil, &out, 0)
	return err
}

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// do sends one request and decodes a 2xx reply into out; any other status
// is an *Error. extra lengthens the timeout (a ?wait hold).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any, extra time.Duration) (int, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultClientTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+extra)
	defer cancel()
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0, &NotRunningError{Addr: req.URL.Host, Err: err}
		}
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read reply: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, replyError(resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: unreadable reply: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// replyError reads an error reply; one that is not posagent's JSON (another
// program on the port, a proxy) keeps its status and a bit of its body.
func replyError(status int, data []byte) *Error {
	var body struct {
		Error *Error `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error != nil && body.Error.Code != "" {
		body.Error.Status = status
		return body.Error
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{Status: status, Code: "HTTP_" + strconv.Itoa(status), Message: msg}
}
