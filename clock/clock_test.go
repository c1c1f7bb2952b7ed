package clock_test

import (
	"testing"
	"time"

	"posagent/clock"
)

func TestFakeFiresInOrderOnlyWhenDue(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := clock.NewFake(start)
	late := f.After(10 * time.Second)
	early := f.After(time.Second)
	if f.Waiters() != 2 {
		t.Fatalf("waiters = %d, want 2", f.Waiters())
	}
	f.Advance(500 * time.Millisecond)
	select {
	case <-early:
		t.Fatal("fired before due")
	default:
	}
	f.Advance(time.Second)
	select {
	case got := <-early:
		if want := start.Add(1500 * time.Millisecond); !got.Equal(want) {
			t.Fatalf("fired at %v, want %v", got, want)
		}
	default:
		t.Fatal("due waiter did not fire")
	}
	select {
	case <-late:
		t.Fatal("late waiter fired early")
	default:
	}
	if !f.BlockUntil(1, time.Second) {
		t.Fatal("BlockUntil did not see the pending waiter")
	}
	if f.BlockUntil(2, 10*time.Millisecond) {
		t.Fatal("BlockUntil saw a waiter that does not exist")
	}
	f.Advance(time.Hour)
	<-late
	if got := f.Now(); !got.Equal(start.Add(time.Hour + 1500*time.Millisecond)) {
		t.Fatalf("Now = %v", got)
	}
}

func TestOrDefaultsToReal(t *testing.T) {
	if _, ok := clock.Or(nil).(clock.Real); !ok {
		t.Fatal("Or(nil) is not Real")
	}
}

func TestSteadyIgnoresWallSteps(t *testing.T) {
	start := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	f := clock.NewFake(start)
	s := clock.Steady(f)
	f.Step(-time.Hour)
	if got := s.Now(); !got.Equal(start) {
		t.Fatalf("after a step back, steady Now = %v, want %v", got, start)
	}
	ch := s.After(time.Minute)
	f.Step(2 * time.Hour)
	select {
	case <-ch:
		t.Fatal("a wall step forward fired an After")
	default:
	}
	f.Advance(time.Minute)
	<-ch
	if got, want := s.Now(), start.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("after Advance(1m), steady Now = %v, want %v", got, want)
	}
	if got, want := f.Now(), start.Add(time.Hour+time.Minute); !got.Equal(want) {
		t.Fatalf("wall Now = %v, want %v", got, want)
	}
}
