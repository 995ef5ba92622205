package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// Bench measures the hot paths: the link lookup every command makes, and the lease renewal every
// listener makes on each tick. Run it with -bench; the Parallel variants use b.RunParallel.
func Bench(b *testing.B, newDB Factory) {
	ctx := b.Context()
	s, err := newDB(b)(ctx, NewKey(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	const channels = 100
	chs := make([]chat.ChannelRef, channels)
	for i := range chs {
		chs[i] = chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: fmt.Sprintf("C%03d", i)}
		m := store.MeetingRef{APIServer: "https://api.example.com", Room: fmt.Sprint(1000 + i%10)}
		if err := s.PutLink(ctx, link(chs[i], m, "123456")); err != nil {
			b.Fatal(err)
		}
		if ok, err := s.ClaimLease(ctx, m.Key()+fmt.Sprint(i), "r1", time.Minute); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
	lease := func(i int) string {
		return store.MeetingRef{APIServer: "https://api.example.com", Room: fmt.Sprint(1000 + i%10)}.Key() + fmt.Sprint(i)
	}

	b.Run("GetLink", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.GetLink(ctx, chs[i%channels]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("GetLinkParallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.GetLink(ctx, chs[i%channels]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	b.Run("RenewLease", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if ok, err := s.RenewLease(ctx, lease(i%channels), "r1", time.Minute); err != nil || !ok {
				b.Fatal(ok, err)
			}
			i++
		}
	})
	b.Run("RenewLeaseParallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if ok, err := s.RenewLease(ctx, lease(i%channels), "r1", time.Minute); err != nil || !ok {
					b.Error(ok, err)
					return
				}
				i++
			}
		})
	})
	// RenewLeases100 renews all 100 leases in one call (per lease: divide by 100), as a replica's
	// renewal round does with a store that can.
	if br, ok := s.(interface {
		RenewLeases(ctx context.Context, owner string, keys []string, ttl time.Duration) ([]string, error)
	}); ok {
		keys := make([]string, channels)
		for i := range keys {
			keys[i] = lease(i)
		}
		b.Run("RenewLeases100", func(b *testing.B) {
			for b.Loop() {
				if held, err := br.RenewLeases(ctx, "r1", keys, time.Minute); err != nil || len(held) != channels {
					b.Fatal(len(held), err)
				}
			}
		})
	}
	b.Run("LinksByMeeting", func(b *testing.B) {
		m := store.MeetingRef{APIServer: "https://api.example.com", Room: "1000"}
		for b.Loop() {
			if ls, err := s.LinksByMeeting(ctx, m); err != nil || len(ls) != channels/10 {
				b.Fatal(len(ls), err)
			}
		}
	})
}
