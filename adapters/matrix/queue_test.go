package matrix

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// A slow command in one room holds up no other room; within a room, commands keep their order.
func TestRoomQueues(t *testing.T) {
	q := newRoomQueues()
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	record := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }

	q.run("!a:x", func() { <-release; record("a1") })
	q.run("!a:x", func() { record("a2") })
	otherDone := make(chan struct{})
	q.run("!b:x", func() { record("b1"); close(otherDone) })
	select {
	case <-otherDone:
	case <-time.After(10 * time.Second):
		t.Fatal("room b waited for room a's slow command")
	}
	close(release)
	q.wait()
	if want := []string{"b1", "a1", "a2"}; !slices.Equal(order, want) {
		t.Errorf("ran %v, want %v", order, want)
	}
	q.run("!a:x", func() { record("a3") }) // a room's queue starts again after it emptied
	q.wait()
	if order[len(order)-1] != "a3" {
		t.Errorf("a later command did not run: %v", order)
	}
}
