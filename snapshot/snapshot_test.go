package snapshot

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"testing"
	"time"
)

// slide draws a test slide: a light background with a dark box whose place depends on n.
func slide(n int, noise uint8) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 320, 180))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{240 - noise, 240, 235, 255}}, image.Point{}, draw.Src)
	x := 20 + (n*70)%240
	draw.Draw(img, image.Rect(x, 40, x+60, 140), &image.Uniform{color.RGBA{30, 60, 120, 255}}, image.Point{}, draw.Src)
	return img
}

func encode(t *testing.T, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecode(t *testing.T) {
	f, err := Decode(encode(t, slide(1, 0), 80))
	if err != nil || f.Width != 320 || f.Height != 180 {
		t.Fatalf("Decode = %+v, %v", f, err)
	}
	var p bytes.Buffer
	png.Encode(&p, slide(1, 0))
	for name, b := range map[string][]byte{
		"empty":      nil,
		"png":        p.Bytes(),
		"truncated":  encode(t, slide(1, 0), 80)[:200],
		"html":       []byte("<html>502 Bad Gateway</html>"),
		"too big":    append([]byte{0xFF, 0xD8, 0xFF}, make([]byte, MaxBytes)...),
		"huge claim": hugeClaim(),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrNotAPicture) {
			t.Errorf("%s: Decode err = %v, want ErrNotAPicture", name, err)
		}
	}
}

// hugeClaim is a tiny JPEG header that claims 60000×60000 pixels.
func hugeClaim() []byte {
	return []byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0xEA, 0x60, 0xEA, 0x60, 0x01, 0x01, 0x11, 0x00, 0xFF, 0xD9}
}

func TestHashSeesSlidesNotEncoding(t *testing.T) {
	a, _ := Decode(encode(t, slide(1, 0), 90))
	again, _ := Decode(encode(t, slide(1, 3), 40)) // the same slide, re-encoded worse, a little noise
	b, _ := Decode(encode(t, slide(2, 0), 90))
	if d := Distance(a.Hash, again.Hash); d > SameThreshold {
		t.Errorf("the same slide re-encoded differs by %d bits", d)
	}
	if d := Distance(a.Hash, b.Hash); d <= SameThreshold {
		t.Errorf("two different slides differ by only %d bits", d)
	}
}

// TestGateThrottles is a presenter flipping slides every second for a minute with a 30 s interval:
// the first frame is posted at once, then at most one a interval, and never an unchanged one.
func TestGateThrottles(t *testing.T) {
	g := &Gate{Interval: 30 * time.Second}
	start := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	g.Start()
	var posted []int
	for s := 0; s < 60; s++ {
		now := start.Add(time.Duration(s) * time.Second)
		if !g.Due(now) {
			continue
		}
		f, _ := Decode(encode(t, slide(s, 0), 80))
		if g.Offer(f, now) {
			posted = append(posted, s)
		}
	}
	if len(posted) != 2 || posted[0] != 0 || posted[1] != 30 {
		t.Errorf("posted at seconds %v, want [0 30]", posted)
	}

	// An unchanged picture is not posted again, however long it stays.
	g = &Gate{Interval: 30 * time.Second}
	g.Start()
	same, _ := Decode(encode(t, slide(7, 0), 80))
	if !g.Offer(same, start) {
		t.Fatal("the first frame of a presentation was not posted")
	}
	if g.Offer(same, start.Add(5*time.Minute)) {
		t.Error("an unchanged slide was posted again")
	}
	// A new presentation posts its first frame even when it looks the same.
	g.Start()
	if !g.Offer(same, start.Add(6*time.Minute)) {
		t.Error("a new presentation's first frame was not posted")
	}
}

func FuzzDecode(f *testing.F) {
	var b bytes.Buffer
	jpeg.Encode(&b, slide(3, 0), nil)
	f.Add(b.Bytes())
	f.Add(hugeClaim())
	f.Add([]byte{0xFF, 0xD8, 0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Decode(data)
		if err == nil && (fr.Width <= 0 || fr.Height <= 0 || fr.Width*fr.Height > MaxPixels) {
			t.Errorf("accepted a %d×%d picture", fr.Width, fr.Height)
		}
	})
}
