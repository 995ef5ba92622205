package sim

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// TestDemoKeepsTheNamedPeopleThere plays the demo at its real pace for ten minutes on a fake
// clock: whenever a newcomer gets to typing what the banner and the README suggest (`mute 张`,
// Alice Martin in `who`), those people are in the room; one the user kicks comes back at the
// next happening.
func TestDemoKeepsTheNamedPeopleThere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(Options{})
		room := s.AddDemoRoom()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.RunDemo(ctx, DemoOptions{Seed: 1}) }()

		present := func() map[string]string {
			in := map[string]string{}
			for _, p := range room.Participants() {
				in[p.Name] = p.UUID
			}
			return in
		}
		kicked := false
		var back time.Time // when the kicked regular must be back by
		others := map[string]bool{}
		for elapsed := time.Duration(0); elapsed < 10*time.Minute; elapsed += time.Second {
			time.Sleep(time.Second)
			synctest.Wait()
			in := present()
			for name := range in {
				if !isRegular(name) {
					others[name] = true
				}
			}
			for _, name := range demoRegulars {
				if _, ok := in[name]; ok {
					continue
				}
				if kicked && name == "张伟" && time.Now().Before(back) {
					continue
				}
				t.Fatalf("after %s of demo %s is not in the room (present: %v)", elapsed, name, in)
			}
			if !kicked && elapsed >= 3*time.Minute {
				room.Leave(in["张伟"])
				kicked = true
				back = time.Now().Add(20*time.Second + time.Second) // MaxGap, and the second this loop looks at
			}
		}
		if len(others) < 3 {
			t.Errorf("in ten minutes only %d other people came by: %v", len(others), others)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunDemo: %v", err)
		}
	})
}
