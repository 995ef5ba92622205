package commands

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/scheduler"
	"github.com/meetbot/meetbot/store"
)

// postLog is the channel side of a scheduled run: what the scheduler posted.
type postLog struct {
	mu    sync.Mutex
	texts []string
	got   chan struct{}
}

func (p *postLog) Post(_ context.Context, _ chat.ChannelRef, n chat.Notification) error {
	p.mu.Lock()
	p.texts = append(p.texts, n.Text)
	p.mu.Unlock()
	select {
	case p.got <- struct{}{}:
	default:
	}
	return nil
}

// TestScheduledRecordStartRuns: `schedule "0 9 * * *" record start` made at 08:58 dials the
// operator's recorder at 09:00 (the scheduler's clock is driven), and the channel hears it.
func TestScheduledRecordStartRuns(t *testing.T) {
	f := newFixture(t)
	withRecorder(t, f, "rtmp://recorder.example.com/live/{room}")
	f.link(t, pubRoom+" "+hostPIN)
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 26, 8, 58, 0, 0, time.UTC))
	posts := &postLog{got: make(chan struct{}, 1)}
	s, err := scheduler.New(scheduler.Config{
		Store: f.store, Handler: f.router, Poster: posts, Clock: clock, ReplicaID: "r1",
		DefaultTZ: time.UTC, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	bctx, bcancel := context.WithTimeout(ctx, 20*time.Second)
	defer bcancel()
	if err := clock.BlockUntilContext(bctx, 1); err != nil { // the reload ticker
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, store.Schedule{Channel: f.ch, Spec: "0 9 * * *", Command: "record start",
		CreatedBy: f.user, Rights: chat.Host}); err != nil {
		t.Fatal(err)
	}
	if err := clock.BlockUntilContext(bctx, 2); err != nil { // and the schedule's timer
		t.Fatal(err)
	}
	if n := streams(f); n != 0 {
		t.Fatalf("%d streaming participants before 09:00", n)
	}
	clock.Advance(2 * time.Minute)
	for {
		posts.mu.Lock()
		texts := strings.Join(posts.texts, "\n")
		posts.mu.Unlock()
		if strings.Contains(texts, "record start") {
			if !strings.Contains(texts, "started recording") {
				t.Errorf("the channel heard %q", texts)
			}
			break
		}
		select {
		case <-posts.got:
		case <-bctx.Done():
			t.Fatalf("the scheduled record start never ran; posts %q", texts)
		}
	}
	if d := lastDial(t, f); !strings.Contains(d, "rtmp://recorder.example.com/live/") || !strings.Contains(d, `"streaming":"yes"`) {
		t.Errorf("dial %s", d)
	}
}

// streams counts the RTMP participants in the fixture's public room.
func streams(f *fixture) int {
	n := 0
	for _, p := range f.pub.Participants() {
		if p.Protocol == "rtmp" {
			n++
		}
	}
	return n
}
