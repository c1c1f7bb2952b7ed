package probe

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"posagent/gateway"
)

// TradeQuerier is the gateway call GatewayCheck makes (*gateway.Client has
// it).
type TradeQuerier interface {
	TradeQuery(ctx context.Context, req gateway.TradeQueryRequest) (*gateway.TradeQueryResponse, error)
}

// CheckTradeNo is the out_trade_no GatewayCheck queries. posagent never
// pays under it (checkout's numbers start with the terminal id and carry a
// timestamp), so the gateway answers ACQ.TRADE_NOT_EXIST and nothing
// changes anywhere.
const CheckTradeNo = "posagent_probe"

// GatewayCheck returns a Check that makes one signed alipay.trade.query
// for CheckTradeNo: a read that moves no money. Any answer of the gateway
// (ACQ.TRADE_NOT_EXIST, a refusal, a reply that failed verification) means
// reachable; only an error for which gateway.IsUnreachable holds (no
// answer) is returned.
func GatewayCheck(gw TradeQuerier) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		_, err := gw.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: CheckTradeNo})
		if err != nil && gateway.IsUnreachable(err) {
			return err
		}
		return nil
	}
}

// HTTPCheck returns a Check that sends HEAD url: any HTTP answer, of any
// status, means reachable; a transport error (no answer) is returned. It
// suits the merchant backend at [coupons] report_url, which has no signed
// call. client nil means http.DefaultClient (the Check's ctx bounds it).
func HTTPCheck(url string, client *http.Client) func(ctx context.Context) error {
	if client == nil {
		client = http.DefaultClient
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
		if err != nil {
			return fmt.Errorf("probe HEAD %s: %w", url, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("probe HEAD %s: %w", url, err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		return nil
	}
}
