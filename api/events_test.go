package api_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"posagent/events"
)

// sse opens GET /v1/events and returns a reader of its lines.
func (en *env) sse(ctx context.Context, lastID string) (*http.Response, *bufio.Reader) {
	en.tb.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", en.HTTP.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+en.Token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		en.tb.Fatal(err)
	}
	return resp, bufio.NewReader(resp.Body)
}

// nextEvent reads lines up to the next blank line and returns the event's
// fields (comments skipped).
func nextEvent(tb testing.TB, rd *bufio.Reader) map[string]string {
	tb.Helper()
	ev := map[string]string{}
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			tb.Fatalf("read event: %v (so far %v)", err, ev)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && len(ev) > 0:
			return ev
		case line == "", strings.HasPrefix(line, ":"):
		default:
			k, v, _ := strings.Cut(line, ": ")
			ev[k] = v
		}
	}
}

func TestEventsStreamLiveAndResume(t *testing.T) {
	b := events.New(events.Options{Start: time.UnixMicro(5000)})
	en := mustOpenEnv(t, envOptions{Events: b})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	resp, rd := en.sse(ctx, "")
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET /v1/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	b.Publish("checkout", map[string]string{"id": "co_1", "state": "paid"})
	ev := nextEvent(t, rd)
	if ev["id"] != "5000" || ev["event"] != "checkout" || ev["data"] != `{"id":"co_1","state":"paid"}` {
		t.Fatalf("live event = %v", ev)
	}
	b.Publish("job", map[string]int{"id": 7})

	// A client that saw 5000 resumes with the job.
	resp2, rd2 := en.sse(ctx, "5000")
	defer resp2.Body.Close()
	if ev := nextEvent(t, rd2); ev["id"] != "5001" || ev["event"] != "job" {
		t.Fatalf("resumed event = %v", ev)
	}
	if status, _, body := en.do("GET", "/v1/events", "", "Last-Event-ID", "abc"); status != 400 {
		t.Fatalf("bad Last-Event-ID: %d %v", status, body)
	}
}

func TestEventsNeedTheToken(t *testing.T) {
	en := mustOpenEnv(t, envOptions{Events: events.New(events.Options{})})
	if status, _, _ := en.do("GET", "/v1/events", "", "Authorization", ""); status != 401 {
		t.Fatalf("GET /v1/events without a token: %d", status)
	}
}
