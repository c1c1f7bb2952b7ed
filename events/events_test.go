package events_test

import (
	"errors"
	"testing"
	"time"

	"posagent/events"
)

func TestResumeFromLastEventID(t *testing.T) {
	b := events.New(events.Options{History: 4, Start: time.UnixMicro(1000)})
	for i := range 3 {
		b.Publish("checkout", map[string]int{"n": i})
	}
	_, backlog, gap, err := b.Subscribe(1000) // saw the first
	if err != nil || gap || len(backlog) != 2 || backlog[0].ID != 1001 || backlog[1].ID != 1002 {
		t.Fatalf("resume after 1000: %+v gap=%v err=%v", backlog, gap, err)
	}
	// Six more: the ring (4) no longer holds 1001..1004.
	for i := range 6 {
		b.Publish("job", i)
	}
	_, backlog, gap, _ = b.Subscribe(1001)
	if !gap || len(backlog) != 4 || backlog[0].ID != 1005 || backlog[3].ID != 1008 {
		t.Fatalf("resume after a gap: %+v gap=%v", backlog, gap)
	}
	// An id from the future (another run whose clock ran ahead): reload.
	if _, _, gap, _ = b.Subscribe(99999); !gap {
		t.Fatal("an id from the future is not a gap")
	}
}

func TestLiveEventsAndSlowSubscriberCutOff(t *testing.T) {
	b := events.New(events.Options{Buffer: 2, Subscribers: 2})
	fast, _, _, _ := b.Subscribe(0)
	slow, _, _, _ := b.Subscribe(0)
	if _, _, _, err := b.Subscribe(0); !errors.Is(err, events.ErrTooManySubscribers) {
		t.Fatalf("third subscriber: %v", err)
	}
	b.Publish("checkout", 1)
	if ev := <-fast.C; ev.Kind != "checkout" || string(ev.Data) != "1" {
		t.Fatalf("fast got %+v", ev)
	}
	b.Publish("checkout", 2)
	<-fast.C
	b.Publish("checkout", 3) // slow holds 1, 2: full, cut off
	if _, open := <-slow.C; !open {
		t.Fatal("slow lost buffered events")
	}
	<-slow.C
	if _, open := <-slow.C; open || !slow.Lagged {
		t.Fatalf("slow subscriber not cut off: lagged=%v", slow.Lagged)
	}
	if ev := <-fast.C; string(ev.Data) != "3" {
		t.Fatalf("fast got %+v", ev)
	}
	if b.Subscribers() != 1 {
		t.Fatalf("subscribers = %d, want 1", b.Subscribers())
	}
	fast.Close()
	fast.Close()
	if b.Subscribers() != 0 {
		t.Fatal("Close did not unsubscribe")
	}
}

func TestNilBrokerIgnoresPublish(t *testing.T) {
	var b *events.Broker
	b.Publish("checkout", 1)
}
