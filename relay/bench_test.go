package relay

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
)

// BenchmarkEventToNotification measures the time from the simulator emitting a join to the
// Poster being called with it, through the loopback event stream, the roster, the outbox and a
// settings read from SQLite. Pace is set to a microsecond so no coalescing delay is counted.
func BenchmarkEventToNotification(b *testing.B) {
	h := newBenchHarness(b)
	room := h.room("9001")
	got := make(chan time.Time, 16)
	h.rec.hook = func(_ context.Context, _ chat.ChannelRef, _ int, n chat.Notification) error {
		got <- time.Now()
		return nil
	}
	r := h.supervisorB(b)
	l := h.link("bench", "9001")
	sess := h.open(l)
	if err := r.Follow(context.Background(), l, sess); err != nil {
		b.Fatal(err)
	}
	eventually(b, "listener primed", func() bool { return r.listens(l) })
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		uuid := join1(room, fmt.Sprint("P", i))
		lat = append(lat, (<-got).Sub(start))
		room.Leave(uuid)
		<-got
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkJoinStorm measures how long 500 joins take from the simulator to the last post, and
// in how many messages, with a chat service that takes 20 ms per post and the default Pace.
func BenchmarkJoinStorm(b *testing.B) {
	h := newBenchHarness(b)
	h.rec.hook = func(context.Context, chat.ChannelRef, int, chat.Notification) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	}
	r := h.supervisor("bench", nil, func(s *Supervisor) { s.Pace = DefaultPace })
	const n = 500
	var msgs int
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		number := fmt.Sprint(9100 + i)
		room := h.room(number)
		l := h.link(fmt.Sprint("storm-", i), number)
		if err := r.Follow(context.Background(), l, h.open(l)); err != nil {
			b.Fatal(err)
		}
		eventually(b, "listener primed", func() bool { return r.listens(l) })
		b.StartTimer()
		for j := range n {
			join1(room, fmt.Sprint("P", j))
		}
		eventually(b, "all posted", func() bool {
			counts, _ := tally(h.rec.texts(l.Channel))
			return counts["joined"] == n
		})
		msgs += len(h.rec.texts(l.Channel))
	}
	b.ReportMetric(float64(msgs)/float64(b.N), "messages/storm")
}
