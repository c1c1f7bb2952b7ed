package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// DefaultReportTimeout bounds one redemption report when
// NewCouponReportHandler gets no client.
const DefaultReportTimeout = 30 * time.Second

// ReportResult is the recorded result of a coupon_report job.
type ReportResult struct {
	// Status is the backend's HTTP status (2xx).
	Status int `json:"status"`
	// Response is the backend's reply body when it is JSON of at most 4 KiB.
	Response json.RawMessage `json:"response,omitempty"`
}

// NewCouponReportHandler returns the coupon_report handler: it POSTs the
// job's payload (JSON) to url ([coupons] report_url) with the job key in an
// Idempotency-Key header, so the merchant backend can apply a repeated
// report once. A 2xx answer is done; 4xx (but 408 and 429) is a permanent
// failure (the backend refuses this report); 408, 429, 5xx and other
// answers are retried, no sooner than a Retry-After header asks; a
// transport error (no answer) is ErrOffline for RemoteReport. client nil
// means a client with a 30 s timeout.
func NewCouponReportHandler(url string, client *http.Client) Handler {
	if client == nil {
		client = &http.Client{Timeout: DefaultReportTimeout}
	}
	return func(ctx context.Context, job Job) (any, error) {
		if url == "" {
			return nil, Permanent(errors.New("coupon report: no [coupons] report_url configured"))
		}
		body := []byte(job.Payload)
		if len(body) == 0 {
			body = []byte("null")
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, Permanent(fmt.Errorf("coupon report: %w", err))
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", job.Key)
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%w: coupon report %s: %v", ErrOffline, job.Key, err)
		}
		defer resp.Body.Close()
		reply, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		code := resp.StatusCode
		if code >= 200 && code < 300 {
			r := ReportResult{Status: code}
			if len(reply) > 0 && len(reply) < 4<<10 && json.Valid(reply) {
				r.Response = reply
			}
			return r, nil
		}
		err = fmt.Errorf("coupon report %s: HTTP %s: %s", job.Key, resp.Status, snippet(reply))
		switch {
		case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
			return nil, Retry(err, retryAfter(resp))
		case code >= 400:
			return nil, Permanent(err)
		}
		return nil, err
	}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date taken
// relative to the response's Date header (so no local clock is read).
func retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	at, err1 := http.ParseTime(v)
	now, err2 := http.ParseTime(resp.Header.Get("Date"))
	if err1 != nil || err2 != nil || !at.After(now) {
		return 0
	}
	return at.Sub(now)
}

// snippet shortens a reply body for an error message.
func snippet(b []byte) string {
	const n = 200
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
