package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"posagent/gateway"
	"posagent/queue"
)

// AwardRequest is the body of POST /v1/awards: exactly one of Mobile and
// UserID, and OutBizNo, the caller's number for this award and its
// idempotency key.
type AwardRequest struct {
	// Mobile is the user's mobile number, at most 16 characters.
	Mobile string `json:"mobile,omitempty"`
	// UserID is the Alipay user id, at most 16 characters.
	UserID string `json:"user_id,omitempty"`
	// OutBizNo is required, at most 128 characters.
	OutBizNo string `json:"out_biz_no"`
	// OutBizCode is the caller's business code; optional, at most 16.
	OutBizCode string `json:"out_biz_code,omitempty"`
}

// AwardReply is the answer of POST /v1/awards: 200 when the award job is
// done (Result holds the gateway's answer), 202 while it is still queued
// (the gateway is unreachable or answered SYSTEM_ERROR; it runs again until
// it is done or dead-lettered).
type AwardReply struct {
	OutBizNo string `json:"out_biz_no"`
	// Queued is true while the job is pending.
	Queued bool `json:"queued"`
	// State is the job's state: pending or done.
	State string `json:"state"`
	// Result is the recorded answer of alipay.user.invite.award.receive
	// (biz_result_code, biz_result_desc, …); null while queued.
	Result *gateway.AwardResponse `json:"result"`
	// Job is the award_receive job, keyed by out_biz_no.
	Job queue.Job `json:"job"`
}

// award queues an award_receive job keyed by out_biz_no (a second request
// with the same out_biz_no finds the same job, so nothing is awarded
// twice), wakes the queue, and waits up to AwardWait for the outcome.
func (s *Server) award(w http.ResponseWriter, r *http.Request) {
	var b AwardRequest
	if e := decodeBody(w, r, &b); e != nil {
		writeError(w, e)
		return
	}
	if e := oneOf("mobile|user_id", b.Mobile, b.UserID); e != nil {
		writeError(w, e)
		return
	}
	if e := requireField("out_biz_no", b.OutBizNo); e != nil {
		writeError(w, e)
		return
	}
	req := gateway.AwardRequest{Mobile: b.Mobile, UserID: b.UserID, OutBizNo: b.OutBizNo, OutBizCode: b.OutBizCode}
	if err := req.Validate(); err != nil {
		writeError(w, errorf(http.StatusBadRequest, CodeBadRequest, "%v", err))
		return
	}
	job, existed, err := s.cfg.Jobs.Enqueue(queue.KindAwardReceive, req.OutBizNo, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if existed {
		var prev gateway.AwardRequest
		if json.Unmarshal(job.Payload, &prev) != nil || prev.Mobile != req.Mobile || prev.UserID != req.UserID || prev.OutBizCode != req.OutBizCode {
			writeError(w, errorf(http.StatusConflict, CodeConflict, "out_biz_no %s was already used for another award (job %d); use a new out_biz_no", req.OutBizNo, job.ID))
			return
		}
	} else {
		s.cfg.Jobs.Notify()
		s.log.Info().Str("event", "award_queued").Uint64("job_id", job.ID).Str("out_biz_no", req.OutBizNo).Msg("award queued")
	}
	job, err = s.waitJob(r.Context(), job, s.cfg.AwardWait)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	reply := AwardReply{OutBizNo: req.OutBizNo, State: job.State, Job: job}
	switch job.State {
	case queue.StateDone:
		var res gateway.AwardResponse
		if len(job.Result) > 0 && json.Unmarshal(job.Result, &res) == nil {
			reply.Result = &res
		}
		writeJSON(w, http.StatusOK, reply)
	case queue.StatePending:
		reply.Queued = true
		writeJSON(w, http.StatusAccepted, reply)
	default: // failed, dead
		writeError(w, errorf(http.StatusUnprocessableEntity, CodeAwardFailed,
			"award %s is %s: %s (job %d; posagent jobs retry %d runs it again)", req.OutBizNo, job.State, job.LastError, job.ID, job.ID))
	}
}

// waitJob polls job until it leaves pending, wait is up, or ctx ends.
func (s *Server) waitJob(ctx context.Context, job queue.Job, wait time.Duration) (queue.Job, error) {
	if job.State != queue.StatePending || wait <= 0 {
		return job, nil
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	every := 10 * time.Millisecond
	for {
		tick := time.NewTimer(every)
		select {
		case <-ctx.Done():
			tick.Stop()
			return job, nil
		case <-deadline.C:
			tick.Stop()
			return s.cfg.Jobs.Get(job.ID)
		case <-tick.C:
		}
		j, err := s.cfg.Jobs.Get(job.ID)
		if err != nil {
			return job, err
		}
		if job = j; job.State != queue.StatePending {
			return job, nil
		}
		every = min(every*2, 200*time.Millisecond)
	}
}
