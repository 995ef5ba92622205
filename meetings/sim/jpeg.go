package sim

import (
	"bytes"
	"hash/fnv"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
)

// Slide size: 16:9, small enough to keep the simulator light, large enough to look like a slide.
const slideW, slideH = 640, 360

// slideJPEG draws slide n of presenter as a JPEG: a background and shapes that depend on both, a
// title bar, and n as big seven-segment digits, with the standard image packages only (no fonts).
// The same (presenter, n) always gives the same picture, and consecutive slides look different.
func slideJPEG(presenter string, n int) []byte {
	h := fnv.New32a()
	h.Write([]byte(presenter))
	seed := h.Sum32()
	hue := func(k uint32) color.RGBA {
		x := seed*2654435761 + k*40503
		return color.RGBA{R: uint8(80 + x%140), G: uint8(80 + (x>>8)%140), B: uint8(80 + (x>>16)%140), A: 255}
	}
	img := image.NewRGBA(image.Rect(0, 0, slideW, slideH))
	fill := func(r image.Rectangle, c color.Color) { draw.Draw(img, r, &image.Uniform{c}, image.Point{}, draw.Src) }
	fill(img.Bounds(), color.RGBA{R: 245, G: 245, B: 240, A: 255})
	fill(image.Rect(0, 0, slideW, 48), hue(0)) // title bar
	// A few shapes that move with the slide number: boxes and a "chart".
	for i := range 3 {
		x := 40 + ((n*97 + i*151) % 360)
		y := 80 + ((n*53 + i*89) % 140)
		fill(image.Rect(x, y, x+80+i*20, y+50+i*10), hue(uint32(n*3+i+1)))
	}
	for i := range 6 {
		bar := 20 + ((n+1)*(i+3)*37)%120
		fill(image.Rect(40+i*30, slideH-30-bar, 60+i*30, slideH-30), hue(uint32(100+i)))
	}
	drawNumber(img, n, image.Pt(slideW-40, slideH-40), color.RGBA{R: 30, G: 30, B: 30, A: 255})
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: 75})
	return b.Bytes()
}

// segments says which of the seven segments (a top, b upper right, c lower right, d bottom, e
// lower left, f upper left, g middle) each digit lights.
var segments = [10]string{"abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg"}

// drawNumber draws n right-aligned with its bottom right corner at at.
func drawNumber(img *image.RGBA, n int, at image.Point, c color.Color) {
	const w, h, t, gap = 60, 110, 12, 18
	digits := []byte(itoa(n))
	x := at.X - len(digits)*(w+gap) + gap
	for _, d := range digits {
		seg := segments[d-'0']
		top, mid, bot := at.Y-h, at.Y-h/2-t/2, at.Y-t
		rects := map[rune]image.Rectangle{
			'a': image.Rect(x, top, x+w, top+t),
			'b': image.Rect(x+w-t, top, x+w, top+h/2),
			'c': image.Rect(x+w-t, at.Y-h/2, x+w, at.Y),
			'd': image.Rect(x, bot, x+w, at.Y),
			'e': image.Rect(x, at.Y-h/2, x+t, at.Y),
			'f': image.Rect(x, top, x+t, top+h/2),
			'g': image.Rect(x, mid, x+w, mid+t),
		}
		for _, s := range seg {
			draw.Draw(img, rects[s], &image.Uniform{c}, image.Point{}, draw.Src)
		}
		x += w + gap
	}
}

func itoa(n int) string {
	if n <= 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
