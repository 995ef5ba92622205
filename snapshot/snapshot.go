// Package snapshot decides which presentation frames are worth posting and checks that what the
// platform sent is a picture: a size-limited JPEG that decodes, reduced to a small perceptual
// hash so a frame that looks the same as the last one posted is not posted again.
//
// It is pure and holds no goroutines. A Gate belongs to one meeting and is not safe for
// concurrent use; its owner (the meeting's listener) serialises calls.
package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"math/bits"
	"time"
)

// MaxBytes is the largest presentation frame accepted; a real slide at a node's resolution is a
// few hundred kilobytes.
const MaxBytes = 4 << 20

// MaxPixels bounds a frame's width times height before it is decoded, so a small file that
// claims a huge picture cannot make the bot allocate gigabytes.
const MaxPixels = 8192 * 8192

// ErrNotAPicture is wrapped by Decode's errors for anything that is not an acceptable JPEG.
var ErrNotAPicture = errors.New("not a JPEG picture")

// Frame is one decoded presentation frame.
type Frame struct {
	JPEG          []byte // as the platform sent it, to post unchanged
	Width, Height int
	Hash          uint64
}

// Decode checks that b is a JPEG of at most MaxBytes and MaxPixels that decodes, and returns it
// with its size and perceptual hash.
func Decode(b []byte) (Frame, error) {
	if len(b) > MaxBytes {
		return Frame{}, fmt.Errorf("%w: %d bytes, more than %d", ErrNotAPicture, len(b), MaxBytes)
	}
	if len(b) < 3 || b[0] != 0xFF || b[1] != 0xD8 || b[2] != 0xFF {
		return Frame{}, fmt.Errorf("%w: no JPEG header", ErrNotAPicture)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return Frame{}, fmt.Errorf("%w: %v", ErrNotAPicture, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > MaxPixels {
		return Frame{}, fmt.Errorf("%w: %d×%d pixels", ErrNotAPicture, cfg.Width, cfg.Height)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return Frame{}, fmt.Errorf("%w: %v", ErrNotAPicture, err)
	}
	return Frame{JPEG: b, Width: cfg.Width, Height: cfg.Height, Hash: DHash(img)}, nil
}

// DHash is the difference hash of img: the picture shrunk to 9×8 grey cells, one bit per pair
// of neighbours saying which is brighter. Re-encoding, small noise and scaling leave it (nearly)
// unchanged; a new slide changes many bits.
func DHash(img image.Image) uint64 {
	r := img.Bounds()
	if r.Empty() {
		return 0
	}
	var cells [8][9]uint32
	for y := range 8 {
		for x := range 9 {
			cells[y][x] = meanGrey(img, image.Rect(
				r.Min.X+x*r.Dx()/9, r.Min.Y+y*r.Dy()/8,
				r.Min.X+(x+1)*r.Dx()/9, r.Min.Y+(y+1)*r.Dy()/8))
		}
	}
	var h uint64
	for y := range 8 {
		for x := range 8 {
			h <<= 1
			if cells[y][x] > cells[y][x+1] {
				h |= 1
			}
		}
	}
	return h
}

// meanGrey averages the luminance of a cell, sampling at most 16×16 points of it.
func meanGrey(img image.Image, cell image.Rectangle) uint32 {
	if cell.Empty() {
		cell.Max = cell.Min.Add(image.Pt(1, 1))
	}
	stepX, stepY := max(1, cell.Dx()/16), max(1, cell.Dy()/16)
	var sum, n uint64
	for y := cell.Min.Y; y < cell.Max.Y; y += stepY {
		for x := cell.Min.X; x < cell.Max.X; x += stepX {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			sum += (299*uint64(cr) + 587*uint64(cg) + 114*uint64(cb)) / 1000
			n++
		}
	}
	return uint32(sum / n)
}

// Distance is how many bits two hashes differ in.
func Distance(a, b uint64) int { return bits.OnesCount64(a ^ b) }

// SameThreshold is the most bits two hashes may differ in for the pictures to count as the same.
const SameThreshold = 5

// Gate decides, for one meeting, when a frame is posted: the first frame of each presentation
// always, later ones at most once per Interval and only when the picture changed.
type Gate struct {
	Interval time.Duration

	posted   bool
	lastAt   time.Time
	lastHash uint64
}

// Start is told that a presentation started: its first frame is posted, whatever it shows.
func (g *Gate) Start() { g.posted = false }

// Due reports whether a frame arriving at now may be fetched at all: no frame is fetched more
// often than the interval once one has been posted for this presentation.
func (g *Gate) Due(now time.Time) bool {
	return !g.posted || now.Sub(g.lastAt) >= g.Interval
}

// Offer reports whether f, fetched at now, should be posted, and if so records it.
func (g *Gate) Offer(f Frame, now time.Time) bool {
	if g.posted && (now.Sub(g.lastAt) < g.Interval || Distance(f.Hash, g.lastHash) <= SameThreshold) {
		return false
	}
	g.posted, g.lastAt, g.lastHash = true, now, f.Hash
	return true
}
