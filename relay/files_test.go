package relay

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

func snapNotice(n int) notice {
	return notice{kind: chat.Snapshot, text: "Slide " + string(rune('0'+n)),
		files: []chat.File{{Name: "slide.jpg", MIME: "image/jpeg", Data: []byte{byte(n)}}}}
}

func reportNotice() notice {
	return notice{kind: chat.Report, text: "Attendance",
		files: []chat.File{{Name: "a.csv", MIME: "text/csv", Data: []byte("x")}, {Name: "a.png", MIME: "image/png", Data: []byte("y")}}}
}

// TestOutboxSnapshotsReplaceUnsentOnes: while a channel is rate limited, newer snapshots
// replace the one waiting, so it gets only the latest picture; the report waiting with them is
// posted with both its files; a channel that turned snapshots off gets none.
func TestOutboxSnapshotsReplaceUnsentOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		entered, release := make(chan struct{}), make(chan struct{})
		rec.hook = func(ctx context.Context, _ chat.ChannelRef, call int, _ chat.Notification) error {
			if call == 1 {
				close(entered)
				<-release
				return &chat.RateLimitError{RetryAfter: 30 * time.Millisecond, Err: errors.New("ratelimited")}
			}
			return nil
		}
		set := &memSettings{m: map[chat.ChannelRef]store.ChannelSettings{chA: {Snapshots: true, Report: true, Joins: true}}}
		o := startOutbox(t, chA, rec, set, time.Millisecond)
		var g seqGen
		o.add(g.stamp(snapNotice(1))...)
		<-entered
		o.add(g.stamp(snapNotice(2))...)
		o.add(g.stamp(snapNotice(3), reportNotice())...)
		close(release)
		await(t, "all acknowledged", func() bool { return o.acked.Load() == g.n })
		rec.mu.Lock()
		posts := rec.posts[chA]
		rec.mu.Unlock()
		var names []string
		for _, p := range posts {
			for _, f := range p.Files {
				names = append(names, f.Name+":"+string(f.Data))
			}
		}
		// The first, refused post was the first snapshot; it was retried with what came since,
		// of which only snapshot 3 remained.
		got := strings.Join(names, " ")
		if strings.Count(got, ".jpg:") != 2 || !strings.Contains(got, ".jpg:\x03") || strings.Contains(got, ".jpg:\x02") ||
			!strings.Contains(got, "a.csv:x") || !strings.Contains(got, "a.png:y") {
			t.Errorf("posted files %q; want snapshot 1 (retried), snapshot 3 and the report's two files", got)
		}
	})
}

// TestOutboxSnapshotsOffPostsNone: the setting is read at flush; off means no picture.
func TestOutboxSnapshotsOffPostsNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		o := startOutbox(t, chA, rec, &memSettings{}, time.Millisecond)
		var g seqGen
		o.add(g.stamp(snapNotice(1))...)
		o.add(g.stamp(join("a", "Alice", "guest"))...)
		await(t, "all acknowledged", func() bool { return o.acked.Load() == g.n })
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, p := range rec.posts[chA] {
			if len(p.Files) > 0 || strings.Contains(p.Text, "Slide") {
				t.Errorf("posted %+v with snapshots off", p)
			}
		}
	})
}

// TestOutboxOverflowKeepsReports: a channel so far behind that its oldest notices are dropped
// still gets the attendance report.
func TestOutboxOverflowKeepsReports(t *testing.T) {
	pending := []notice{reportNotice()}
	for range maxPending + 5 {
		pending = append(pending, notice{kind: chat.Joined, who: "x", name: "X"})
	}
	out := dropOldest(pending, 100)
	if want := maxPending + 6 - 99; len(out) != want { // the 99 oldest joins went, the report stayed
		t.Fatalf("after dropping: %d notices, want %d", len(out), want)
	}
	if out[0].kind != chat.Report {
		t.Errorf("first notice after dropping is %s, want the report", out[0].kind)
	}
}

// TestSplitKeepsFilesOnce: a long message split in parts carries its files once, on the last.
func TestSplitKeepsFilesOnce(t *testing.T) {
	n := chat.Notification{Text: strings.Repeat("line\n", 100), Files: reportNotice().files}
	parts := split(n, 50)
	if len(parts) < 2 {
		t.Fatalf("%d parts", len(parts))
	}
	total := 0
	for _, p := range parts {
		total += len(p.n.Files)
	}
	if total != 2 || len(parts[len(parts)-1].n.Files) != 2 {
		t.Errorf("files over the parts: %d in all, %d on the last; want 2 on the last", total, len(parts[len(parts)-1].n.Files))
	}
}
