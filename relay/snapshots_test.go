package relay

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
)

// slidePicture draws slide n: nine columns of greys that depend on n, so two slides differ
// across whole columns, as a new slide does.
func slidePicture(t *testing.T, n int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 180, 90))
	for y := range 90 {
		for x := range 180 {
			g := uint8(((n + 1) * (x/20 + 3) * 73) % 256)
			img.Set(x, y, color.RGBA{g, g, g, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSnapshotsThrottled: a presenter flipping slides every second for two minutes gets the
// first frame posted and then at most one snapshot per interval; a presenter who stays on one
// slide gets none after the first; and frames are fetched only when one could be posted.
func TestSnapshotsThrottled(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 14, 3, 0, 0, time.UTC)
	pics := map[int][]byte{}
	slide := 0
	fetches := 0
	s := newSlides(30*time.Second, func(ctx context.Context, id string) ([]byte, error) {
		fetches++
		if pics[slide] == nil {
			pics[slide] = slidePicture(t, slide)
		}
		return pics[slide], nil
	})
	var posted []time.Duration
	play := func(ev meetings.Event, at time.Duration) {
		t.Helper()
		n, err := s.observe(ctx, ev, t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		if n != nil {
			posted = append(posted, at)
		}
	}
	play(meetings.PresentationStarted{PresenterName: "Carol Nguyen"}, 0)
	for sec := range 120 { // flipping every second
		slide = sec
		play(meetings.PresentationFrame{ID: "f"}, time.Duration(sec)*time.Second)
	}
	want := []time.Duration{0, 30 * time.Second, 60 * time.Second, 90 * time.Second}
	if len(posted) != len(want) {
		t.Fatalf("posted at %v, want %v (at most one per 30 s)", posted, want)
	}
	for i := range want {
		if posted[i] != want[i] {
			t.Errorf("snapshot %d at %v, want %v", i, posted[i], want[i])
		}
	}
	if fetches > 5 {
		t.Errorf("%d fetches for 120 frames; want one per interval", fetches)
	}
	// The presenter stays on slide 119 for three minutes: it is posted once (it differs from
	// slide 90, the last posted), then never again.
	posted = nil
	for sec := 120; sec < 300; sec++ {
		play(meetings.PresentationFrame{ID: "f"}, time.Duration(sec)*time.Second)
	}
	if len(posted) != 1 || posted[0] != 120*time.Second {
		t.Errorf("a slide kept for three minutes posted at %v, want once at 2m0s", posted)
	}
	posted = nil
	// A new presentation posts its first frame at once.
	play(meetings.PresentationStarted{PresenterName: "Dan"}, 301*time.Second)
	play(meetings.PresentationFrame{ID: "f"}, 301*time.Second)
	if len(posted) != 1 {
		t.Errorf("first frame of a new presentation: posted %v", posted)
	}
}

// TestSnapshotNoticeAsPosted: the channel gets the JPEG with its size and alt text in its own
// time zone, and a frame that is no picture is skipped.
func TestSnapshotNoticeAsPosted(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 14, 3, 0, 0, time.UTC)
	pic := slidePicture(t, 1)
	body := pic
	s := newSlides(0, func(ctx context.Context, id string) ([]byte, error) { return body, nil })
	s.observe(ctx, meetings.PresentationStarted{PresenterName: "Carol Nguyen"}, t0)
	body = []byte("<html>not a picture</html>")
	if n, err := s.observe(ctx, meetings.PresentationFrame{ID: "1"}, t0); err == nil || n != nil {
		t.Errorf("a frame that is no JPEG gave %v, %v", n, err)
	}
	body = pic
	n, err := s.observe(ctx, meetings.PresentationFrame{ID: "2"}, t0)
	if err != nil || n == nil {
		t.Fatalf("frame: %v, %v", n, err)
	}
	msg, ok := coalesce([]notice{*n}, store.ChannelSettings{Snapshots: true, TimeZone: "Europe/Berlin"})
	if !ok || len(msg.Files) != 1 || msg.Kinds[0] != chat.Snapshot {
		t.Fatalf("notification %+v", msg)
	}
	f := msg.Files[0]
	if f.AltText != "Slide shared by Carol Nguyen, 15:03" || f.MIME != "image/jpeg" || f.Width != 180 || f.Height != 90 ||
		!bytes.Equal(f.Data, pic) || f.Name != "slide-2026-12-01-150300.jpg" {
		t.Errorf("file %s %s %dx%d alt %q", f.Name, f.MIME, f.Width, f.Height, f.AltText)
	}
	if msg.Text != "Carol Nguyen is presenting" {
		t.Errorf("text %q", msg.Text)
	}
}
