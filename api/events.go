package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"posagent/events"
)

// HeartbeatEvery is how often GET /v1/events writes a comment line when
// nothing happens, so proxies and browsers keep the stream open.
const HeartbeatEvery = 15 * time.Second

// streamEvents is GET /v1/events: Server-Sent Events, one per change of a
// checkout, refund or job (event: kind, id: increasing, data: the object).
// Last-Event-ID (header, or ?last_event_id= for clients that cannot set
// it) resumes; when events were lost meanwhile a "reset" event tells the
// client to reload what it shows.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Events == nil {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "this posagent has no event feed"))
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if v := r.URL.Query().Get("last_event_id"); v != "" {
		last = v
	}
	var lastID uint64
	if last != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(last), 10, 64)
		if err != nil {
			writeError(w, errorf(http.StatusBadRequest, CodeBadRequest, "Last-Event-ID must be an event id, not %q", last))
			return
		}
		lastID = n
	}
	sub, backlog, gap, err := s.cfg.Events.Subscribe(lastID)
	if errors.Is(err, events.ErrTooManySubscribers) {
		writeError(w, errorf(http.StatusServiceUnavailable, "TOO_MANY_CLIENTS", "too many clients follow the event feed; close one and retry"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer sub.Close()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(ev events.Event) error {
		_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Kind, ev.Data)
		return err
	}
	if gap {
		if _, err := fmt.Fprint(w, "event: reset\ndata: {}\n\n"); err != nil {
			return
		}
	}
	for _, ev := range backlog {
		if write(ev) != nil {
			return
		}
	}
	_, _ = fmt.Fprint(w, ": posagent events\n\n")
	if rc.Flush() != nil {
		return
	}
	beat := time.NewTicker(HeartbeatEvery)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, open := <-sub.C:
			if !open {
				return // cut off for lagging: the client reconnects and resumes
			}
			if write(ev) != nil {
				return
			}
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}
