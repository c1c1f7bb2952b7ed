package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"posagent/gateway"
)

// AwardGateway is what an award_receive job needs of the gateway client
// (*gateway.Client has it).
type AwardGateway interface {
	// InviteAward calls alipay.user.invite.award.receive. Errors are
	// *gateway.Error values classified by gateway.KindOf: Invalid,
	// Rejected, Failure (sub_code INVALID_PARAMETER, SYSTEM_ERROR) and
	// Unknown (gateway.IsUnreachable when there was no answer).
	InviteAward(ctx context.Context, req gateway.AwardRequest) (*gateway.AwardResponse, error)
}

// NewAwardHandler returns the award_receive handler. The payload is a
// gateway.AwardRequest; its out_biz_no is the job key (set from the key
// when empty; a different one is a permanent failure), so a repeated call
// cannot award twice. Success records the gateway's response
// (biz_result_code, biz_result_desc, …) as the job result. A request that
// fails validation, a gateway rejection (40001/40002/40006) and business
// failures other than SYSTEM_ERROR (INVALID_PARAMETER, …) are permanent;
// SYSTEM_ERROR and unknown results are retried; an unreachable gateway
// puts the queue's gateway remote offline.
func NewAwardHandler(gw AwardGateway) Handler {
	return func(ctx context.Context, job Job) (any, error) {
		var req gateway.AwardRequest
		if err := json.Unmarshal(job.Payload, &req); err != nil {
			return nil, Permanent(fmt.Errorf("award %s: payload: %w", job.Key, err))
		}
		if req.OutBizNo != "" && req.OutBizNo != job.Key {
			return nil, Permanent(fmt.Errorf("award %s: payload out_biz_no %q differs from the job key", job.Key, req.OutBizNo))
		}
		req.OutBizNo = job.Key
		resp, err := gw.InviteAward(ctx, req)
		if err == nil {
			return resp, nil
		}
		err = fmt.Errorf("award %s: %w", job.Key, err)
		switch gateway.KindOf(err) {
		case gateway.Invalid, gateway.Rejected:
			return nil, Permanent(err)
		case gateway.Failure:
			if sub := gateway.SubCodeOf(err); !isSystemError(sub) {
				return nil, Permanent(err)
			}
		}
		return nil, err // Unknown (offline when unreachable), SYSTEM_ERROR, in progress
	}
}

// isSystemError reports whether a business failure's sub_code says the
// gateway side failed, so that the same request may succeed later.
func isSystemError(sub string) bool {
	return sub == "SYSTEM_ERROR" || strings.HasSuffix(sub, ".SYSTEM_ERROR") || strings.HasPrefix(sub, "isp.")
}
