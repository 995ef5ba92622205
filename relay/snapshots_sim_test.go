package relay

import (
	"context"
	"strings"
	"testing"

	"github.com/meetbot/meetbot/chat"
	slide "github.com/meetbot/meetbot/snapshot"
)

// TestSnapshotPostedFromSim: with snapshots on, a presentation in the simulator posts its first
// slide, fetched from presentation.jpeg, as a JPEG that decodes, with the presenter in the alt
// text; the slides flipped right after it are within the interval and not posted.
func TestSnapshotPostedFromSim(t *testing.T) {
	h := newHarness(t, nil)
	room := h.room("1001")
	alice := join1(room, "Alice")
	r := h.supervisor("r1", nil, nil)
	l := h.follow(r, "team", "1001")
	set, err := h.store.GetSettings(context.Background(), l.Channel)
	if err != nil {
		t.Fatal(err)
	}
	set.Snapshots = true
	if err := h.store.PutSettings(context.Background(), l.Channel, set); err != nil {
		t.Fatal(err)
	}
	room.Present(alice, true)
	room.NextSlide()
	room.NextSlide()
	h.expect(l.Channel, "Alice started presenting", "Alice is presenting")
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	var files []chat.File
	for _, n := range h.rec.posts[l.Channel] {
		files = append(files, n.Files...)
	}
	if len(files) != 1 {
		t.Fatalf("%d files posted, want the first slide only", len(files))
	}
	f := files[0]
	if _, err := slide.Decode(f.Data); err != nil || f.MIME != "image/jpeg" {
		t.Errorf("snapshot %s does not decode: %v", f.MIME, err)
	}
	if !strings.HasPrefix(f.AltText, "Slide shared by Alice, ") || f.Width == 0 {
		t.Errorf("alt text %q, %dx%d", f.AltText, f.Width, f.Height)
	}
}
