package sim

import (
	"bytes"
	"image/jpeg"
	"testing"
)

// TestSlidesAreRealPicturesThatChange: presentation.jpeg serves a JPEG that decodes, the same
// picture for frames of one slide, and a different one after NextSlide or for another presenter.
func TestSlidesAreRealPicturesThatChange(t *testing.T) {
	a1, a1again, a2, b1 := slideJPEG("Carol Nguyen", 1), slideJPEG("Carol Nguyen", 1), slideJPEG("Carol Nguyen", 2), slideJPEG("张伟", 1)
	for name, b := range map[string][]byte{"a1": a1, "a2": a2, "b1": b1} {
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("slide %s does not decode: %v", name, err)
		}
		if r := img.Bounds(); r.Dx() != slideW || r.Dy() != slideH {
			t.Errorf("slide %s is %v", name, r)
		}
	}
	if !bytes.Equal(a1, a1again) {
		t.Error("the same slide gave two different pictures")
	}
	if bytes.Equal(a1, a2) || bytes.Equal(a1, b1) {
		t.Error("another slide or another presenter gave the same picture")
	}

	e := newEnv(t, Options{})
	room := e.sim.AddRoom(RoomConfig{Number: "1061", HostPIN: "1234"})
	carol := room.Join(ParticipantSpec{Name: "Carol Nguyen"})
	bot := e.open("1061", "meetbot", "1234")
	if _, ok := room.Slide(); ok {
		t.Fatal("a slide is shown before anyone presents")
	}
	room.Present(carol, true)
	get := func() []byte {
		t.Helper()
		a := bot.get("presentation.jpeg")
		if a.Status != 200 {
			t.Fatalf("presentation.jpeg: %d %s", a.Status, a.Body)
		}
		return a.Body
	}
	first := get()
	room.Frame()
	if !bytes.Equal(first, get()) {
		t.Error("a frame of the same slide served another picture")
	}
	room.NextSlide()
	if n, _ := room.Slide(); n != 2 || bytes.Equal(first, get()) {
		t.Errorf("after NextSlide the slide is %d and the picture changed: %v", n, !bytes.Equal(first, get()))
	}
}
