package api

import (
	"net/http"
	"slices"
	"strconv"

	"posagent/queue"
)

var jobStates = []string{queue.StatePending, queue.StateDone, queue.StateFailed, queue.StateDead}

// JobKinds are the kinds of job posagent queues; GET /v1/jobs?kind= and
// "posagent jobs --kind" refuse any other, as they refuse an unknown state,
// rather than answer an empty list for a typo.
var JobKinds = []string{
	queue.KindTradeCancel, queue.KindTradeReconcile, queue.KindTradeRefund, queue.KindReconcile,
	queue.KindCouponReport, queue.KindAwardReceive,
}

// listJobs: ?state=&kind=&limit=&before=, newest first.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := queue.Filter{State: q.Get("state"), Kind: q.Get("kind")}
	switch f.State {
	case "", queue.StatePending, queue.StateDone, queue.StateFailed, queue.StateDead:
	default:
		writeError(w, errorf(http.StatusBadRequest, "BAD_STATE", "state must be one of %v, not %q", jobStates, f.State))
		return
	}
	if f.Kind != "" && !slices.Contains(JobKinds, f.Kind) {
		writeError(w, errorf(http.StatusBadRequest, "BAD_KIND", "kind must be one of %v, not %q", JobKinds, f.Kind))
		return
	}
	var e *Error
	if f.Limit, e = parseLimit(r, queue.MaxListLimit); e != nil {
		writeError(w, e)
		return
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			writeError(w, errorf(http.StatusBadRequest, CodeBadRequest, "before must be a job id, not %q", v))
			return
		}
		f.Before = n
	}
	jobs, err := s.cfg.Jobs.List(f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeItems(w, jobs)
}

// jobID reads the {id} of a job route.
func jobID(r *http.Request) (uint64, *Error) {
	v := r.PathValue("id")
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, errorf(http.StatusBadRequest, "BAD_JOB_ID", "a job id is a positive whole number, not %q", v)
	}
	return n, nil
}

// getJob answers one job.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	s.onJob(w, r, func(j queue.Job) (queue.Job, error) { return j, nil })
}

// retryJob makes a dead, failed or waiting job run now and answers the job.
func (s *Server) retryJob(w http.ResponseWriter, r *http.Request) {
	s.onJob(w, r, func(j queue.Job) (queue.Job, error) {
		if err := s.cfg.Jobs.Retry(j.ID); err != nil {
			return j, err
		}
		return s.cfg.Jobs.Get(j.ID)
	})
}

// dropJob deletes a job and answers it as it was. The queue refuses trade
// jobs (409 JOB_PROTECTED).
func (s *Server) dropJob(w http.ResponseWriter, r *http.Request) {
	s.onJob(w, r, func(j queue.Job) (queue.Job, error) { return j, s.cfg.Jobs.Drop(j.ID) })
}

// onJob looks up the job of the route's {id} (400 for a bad id, 404 for an
// unknown one), applies act to it and answers the job act returns.
func (s *Server) onJob(w http.ResponseWriter, r *http.Request, act func(queue.Job) (queue.Job, error)) {
	id, e := jobID(r)
	if e != nil {
		writeError(w, e)
		return
	}
	j, err := s.cfg.Jobs.Get(id)
	if err == nil {
		j, err = act(j)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, j)
}
