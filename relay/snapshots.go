package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	slide "github.com/meetbot/meetbot/snapshot"
)

// DefaultSnapshotInterval is the least time between two slide snapshots of one meeting when the
// Supervisor sets none (SNAPSHOT_INTERVAL).
const DefaultSnapshotInterval = 30 * time.Second

// slides decides, for one meeting, which presentation frames become snapshot notices: the first
// of each presentation, later ones at most once per interval and only when the picture changed
// (slide.Gate). It fetches a frame only when the gate lets it through, so a presenter paging
// every second costs one fetch per interval. Only the event loop uses it.
type slides struct {
	gate      slide.Gate
	presenter string
	fetch     func(ctx context.Context, id string) ([]byte, error) // presentation.jpeg
}

func newSlides(interval time.Duration, fetch func(ctx context.Context, id string) ([]byte, error)) *slides {
	if interval <= 0 {
		interval = DefaultSnapshotInterval
	}
	return &slides{gate: slide.Gate{Interval: interval}, fetch: fetch}
}

// observe returns the snapshot notice ev leads to, if any. A frame that cannot be fetched or is
// no picture is skipped with an error; the next frame may do.
func (s *slides) observe(ctx context.Context, ev meetings.Event, now time.Time) (*notice, error) {
	switch ev := ev.(type) {
	case meetings.PresentationStarted:
		s.gate.Start()
		s.presenter = ev.PresenterName
	case meetings.PresentationStopped:
		s.presenter = ""
	case meetings.PresentationFrame:
		if !s.gate.Due(now) {
			return nil, nil
		}
		b, err := s.fetch(ctx, ev.ID)
		if err != nil {
			return nil, fmt.Errorf("fetch presentation frame: %w", err)
		}
		f, err := slide.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("presentation frame: %w", err)
		}
		if !s.gate.Offer(f, now) {
			return nil, nil
		}
		who := s.presenter
		if who == "" {
			who = "someone"
		}
		return &notice{kind: chat.Snapshot, name: who, at: now, text: displayName(who) + " is presenting",
			files: []chat.File{{MIME: "image/jpeg", Data: f.JPEG, Width: f.Width, Height: f.Height}}}, nil
	}
	return nil, nil
}

// snapshotFiles names a snapshot's picture and words its alt text in the channel's time zone.
func snapshotFiles(n notice, loc *time.Location) []chat.File {
	at := n.at.In(loc)
	out := make([]chat.File, len(n.files))
	for i, f := range n.files {
		f.Name = "slide-" + at.Format("2006-01-02-150405") + ".jpg"
		f.AltText = fmt.Sprintf("Slide shared by %s, %s", chat.OneLine(n.name), at.Format("15:04"))
		out[i] = f
	}
	return out
}

// snapshot hands a presentation event to the meeting's slides and a snapshot it yields to every
// channel's outbox, where each channel's setting decides. No frame is fetched while no channel
// has snapshots on. It runs on the event loop without the listener's lock.
func (l *Listener) snapshot(ev meetings.Event, now time.Time) {
	switch ev.(type) {
	case meetings.PresentationStarted, meetings.PresentationStopped, meetings.PresentationFrame:
	default:
		return
	}
	if l.slides == nil {
		l.slides = newSlides(l.sup.SnapshotInterval, l.sess.PresentationJPEG)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), 10*time.Second)
	defer cancel()
	if _, ok := ev.(meetings.PresentationFrame); ok && !l.anyWantsSnapshots(ctx) {
		return
	}
	n, err := l.slides.observe(ctx, ev, now)
	if err != nil {
		l.log.Warn("presentation frame not posted", "err", err)
		return
	}
	if n == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	n.seq = l.seq
	for _, o := range l.outboxes {
		o.add(*n)
	}
}

// anyWantsSnapshots reports whether a channel of the meeting has snapshots on.
func (l *Listener) anyWantsSnapshots(ctx context.Context) bool {
	for ch := range l.channels() {
		if s, err := l.sup.Store.GetSettings(ctx, ch); err == nil && s.Snapshots {
			return true
		}
	}
	return false
}
