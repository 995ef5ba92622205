package attendance

import (
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Chart size: small enough for a chat thread, large enough to read on a laptop.
const (
	chartWidth  = 16 * vg.Centimeter
	chartHeight = 8 * vg.Centimeter
)

// Headcount is how many people were in the meeting from At until the next step.
type Headcount struct {
	At    time.Time
	Count int
}

// Headcounts returns the number of people present over time, one step per change, from the
// report's start to its end (or now). A person on two devices counts once.
func (r Report) Headcounts(now time.Time) []Headcount {
	end := r.end(now)
	type edge struct {
		at   time.Time
		name string
		d    int
	}
	var edges []edge
	for _, iv := range r.Intervals {
		left := iv.Left
		if left.IsZero() || left.After(end) {
			left = end
		}
		if left.Before(iv.Joined) {
			continue
		}
		edges = append(edges, edge{iv.Joined, iv.Name, +1}, edge{left, iv.Name, -1})
	}
	// Leaves before joins at the same instant, so a rejoin does not count a person twice.
	slices.SortStableFunc(edges, func(a, b edge) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.d, b.d))
	})
	devices := map[string]int{}
	start := cmp.Or(r.Start, end)
	if len(edges) > 0 && edges[0].at.Before(start) {
		start = edges[0].at
	}
	out := []Headcount{{At: start, Count: 0}}
	people := 0
	for _, e := range edges {
		before := devices[e.name]
		devices[e.name] += e.d
		switch {
		case before == 0 && devices[e.name] > 0:
			people++
		case before > 0 && devices[e.name] == 0:
			people--
		default:
			continue
		}
		if last := &out[len(out)-1]; last.At.Equal(e.at) {
			last.Count = people
		} else {
			out = append(out, Headcount{At: e.at, Count: people})
		}
	}
	if last := out[len(out)-1]; last.At.Before(end) {
		out = append(out, Headcount{At: end, Count: last.Count})
	}
	return out
}

// ChartPNG draws how many people were in the meeting over time as a PNG, with each presentation
// shaded and numbered in order (the numbers match PresentationLegend; names are not drawn, since
// the chart's font has no CJK glyphs and a name must never turn into boxes).
func (r Report) ChartPNG(now time.Time) ([]byte, error) {
	loc := cmp.Or(r.Location, time.UTC)
	counts := r.Headcounts(now)
	end := r.end(now)
	peak := 0
	pts := make(plotter.XYs, len(counts))
	for i, c := range counts {
		pts[i].X, pts[i].Y = float64(c.At.Unix()), float64(c.Count)
		peak = max(peak, c.Count)
	}

	p := plot.New()
	p.Title.Text = "People in the meeting"
	p.X.Label.Text = "Time (" + loc.String() + ")"
	p.Y.Label.Text = "People"
	p.X.Tick.Marker = timeTicks{loc: loc}
	p.Y.Min, p.Y.Max = 0, float64(peak)+1
	p.Y.Tick.Marker = wholeTicks{}
	p.Add(plotter.NewGrid())

	for i, pr := range r.Presentations {
		to := pr.To
		if to.IsZero() || to.After(end) {
			to = end
		}
		if !to.After(pr.From) {
			continue
		}
		x0, x1, top := float64(pr.From.Unix()), float64(to.Unix()), float64(peak)+1
		band, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: top}, {X: x0, Y: top}})
		if err != nil {
			return nil, err
		}
		band.Color = color.NRGBA{R: 255, G: 190, B: 60, A: 110}
		band.LineStyle.Width = 0
		band.LineStyle.Color = color.Transparent
		p.Add(band)
		labels, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    plotter.XYs{{X: x0, Y: top - 0.1}},
			Labels: []string{strconv.Itoa(i + 1)},
		})
		if err != nil {
			return nil, err
		}
		labels.Offset = vg.Point{X: 2, Y: -12}
		p.Add(labels)
	}

	line, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	line.StepStyle = plotter.PostStep
	line.Color = color.RGBA{R: 30, G: 100, B: 200, A: 255}
	line.Width = vg.Points(2)
	p.Add(line)

	w, err := p.WriterTo(chartWidth, chartHeight, "png")
	if err != nil {
		return nil, fmt.Errorf("draw the attendance chart: %w", err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("draw the attendance chart: %w", err)
	}
	return buf.Bytes(), nil
}

// PresentationLegend lists the chart's numbered presentations: "1 Carol Nguyen 14:03–14:10".
func (r Report) PresentationLegend() []string {
	loc := cmp.Or(r.Location, time.UTC)
	out := make([]string, 0, len(r.Presentations))
	for i, pr := range r.Presentations {
		to := "now"
		if !pr.To.IsZero() {
			to = pr.To.In(loc).Format("15:04")
		} else if !r.End.IsZero() {
			to = r.End.In(loc).Format("15:04")
		}
		out = append(out, fmt.Sprintf("%d %s %s–%s", i+1, pr.Name, pr.From.In(loc).Format("15:04"), to))
	}
	return out
}

// timeTicks labels the time axis in the report's zone, a tick every sensible number of minutes.
type timeTicks struct{ loc *time.Location }

func (t timeTicks) Ticks(min, max float64) []plot.Tick {
	span := time.Duration(max-min) * time.Second
	step := time.Minute
	for _, s := range []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour} {
		step = s
		if span/s <= 8 {
			break
		}
	}
	first := time.Unix(int64(min), 0).Truncate(step)
	var out []plot.Tick
	for at := first; !at.After(time.Unix(int64(max), 0)); at = at.Add(step) {
		if at.Before(time.Unix(int64(min), 0)) {
			continue
		}
		out = append(out, plot.Tick{Value: float64(at.Unix()), Label: at.In(t.loc).Format("15:04")})
	}
	return out
}

// wholeTicks labels the people axis with whole numbers only.
type wholeTicks struct{}

func (wholeTicks) Ticks(min, max float64) []plot.Tick {
	step := 1
	for (max-min)/float64(step) > 8 {
		step *= 2
	}
	var out []plot.Tick
	for v := 0; float64(v) <= max; v += step {
		out = append(out, plot.Tick{Value: float64(v), Label: strconv.Itoa(v)})
	}
	return out
}
