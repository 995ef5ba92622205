package attendance

import (
	"bytes"
	"encoding/csv"
	"image/png"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// sample is a 60-minute meeting: Alice hosts throughout, Bob drops and rejoins, 张伟 is on two
// devices at once for a while, Carol presents twice and is still in at the end.
func sample() Report {
	return Report{
		Meeting: "Weekly sync", Start: at(0), End: at(60),
		Location: time.FixedZone("CST", 8*3600),
		Intervals: []Interval{
			{UUID: "a1", Name: "Alice Martin", Role: "chair", Protocol: "webrtc", Joined: at(0), Left: at(60)},
			{UUID: "b1", Name: "Bob Okafor", Role: "guest", Protocol: "sip", Joined: at(5), Left: at(20)},
			{UUID: "z1", Name: "张伟", Role: "guest", Protocol: "webrtc", Joined: at(10), Left: at(40)},
			{UUID: "z2", Name: "张伟", Role: "guest", Protocol: "sip", Joined: at(30), Left: at(50)},
			{UUID: "b2", Name: "Bob Okafor", Role: "guest", Protocol: "webrtc", Joined: at(25), Left: at(35)},
			{UUID: "c1", Name: "Carol Nguyen", Role: "guest", Protocol: "webrtc", Joined: at(15)},
		},
		Presentations: []Presentation{
			{Name: "Carol Nguyen", From: at(16), To: at(22)},
			{Name: "张伟", From: at(31), To: at(45)},
		},
	}
}

func TestPeople(t *testing.T) {
	got := sample().People(at(60))
	want := []Person{
		{Name: "Alice Martin", Role: "host", Protocol: "webrtc", FirstJoined: at(0), LastLeft: at(60), Present: 60 * time.Minute, Joins: 1},
		{Name: "Bob Okafor", Role: "guest", Protocol: "sip", FirstJoined: at(5), LastLeft: at(35), Present: 25 * time.Minute, Joins: 2},
		{Name: "张伟", Role: "guest", Protocol: "webrtc", FirstJoined: at(10), LastLeft: at(50), Present: 40 * time.Minute, Joins: 2},
		{Name: "Carol Nguyen", Role: "guest", Protocol: "webrtc", FirstJoined: at(15), Present: 45 * time.Minute, Joins: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("people (-want +got):\n%s", diff)
	}
}

func TestMinutesRoundsButNeverHidesSomeoneWhoCame(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 0, 10 * time.Second: 1, 89 * time.Second: 1, 90 * time.Second: 2, 25 * time.Minute: 25} {
		if got := (Person{Present: d}).Minutes(); got != want {
			t.Errorf("Minutes(%s) = %d, want %d", d, got, want)
		}
	}
}

func TestCSV(t *testing.T) {
	r := sample()
	r.Intervals = append(r.Intervals, Interval{Name: "=HYPERLINK(\"http://evil\")", Role: "guest", Protocol: "webrtc", Joined: at(50), Left: at(51)})
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf, at(60)); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		t.Fatalf("the file does not start with a UTF-8 byte-order mark: %q", b[:min(10, len(b))])
	}
	rows, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"Name", "Role", "Protocol", "First joined", "Last left", "Minutes present", "Times joined"},
		{"Alice Martin", "host", "webrtc", "2026-12-01 22:00", "2026-12-01 23:00", "60", "1"},
		{"Bob Okafor", "guest", "sip", "2026-12-01 22:05", "2026-12-01 22:35", "25", "2"},
		{"张伟", "guest", "webrtc", "2026-12-01 22:10", "2026-12-01 22:50", "40", "2"},
		{"Carol Nguyen", "guest", "webrtc", "2026-12-01 22:15", "still in", "45", "1"},
		{`'=HYPERLINK("http://evil")`, "guest", "webrtc", "2026-12-01 22:50", "2026-12-01 22:51", "1", "1"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("CSV rows (-want +got):\n%s", diff)
	}
}

func TestHeadcounts(t *testing.T) {
	got := sample().Headcounts(at(60))
	want := []Headcount{
		{at(0), 1}, {at(5), 2}, {at(10), 3}, {at(15), 4}, {at(20), 3}, {at(25), 4}, {at(35), 3}, {at(50), 2}, {at(60), 0},
	}
	// 张伟's second device (30–50) overlaps the first (10–40): no step at 30 or 40.
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headcounts (-want +got):\n%s", diff)
	}
}

func TestChartIsAPNG(t *testing.T) {
	r := sample()
	b, err := r.ChartPNG(at(60))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the chart is not a PNG: %v", err)
	}
	if bounds := img.Bounds(); bounds.Dx() < 300 || bounds.Dy() < 150 {
		t.Errorf("chart is %v, too small to read", bounds)
	}
	if os.Getenv("ATTENDANCE_CHART_OUT") != "" {
		os.WriteFile(os.Getenv("ATTENDANCE_CHART_OUT"), b, 0o644)
	}
	legend := r.PresentationLegend()
	if want := []string{"1 Carol Nguyen 22:16–22:22", "2 张伟 22:31–22:45"}; !cmp.Equal(want, legend) {
		t.Errorf("legend %q, want %q", legend, want)
	}
}

func TestEmptyMeeting(t *testing.T) {
	r := Report{Meeting: "Nobody came", Start: at(0), End: at(5)}
	if p := r.People(at(5)); len(p) != 0 {
		t.Errorf("people of an empty meeting: %v", p)
	}
	if _, err := r.ChartPNG(at(5)); err != nil {
		t.Errorf("chart of an empty meeting: %v", err)
	}
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf, at(5)); err != nil || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("CSV of an empty meeting: %q, %v", buf.String(), err)
	}
	if s := r.Summary(at(5)); s != "Attendance of Nobody came: 0 people over 5m0s." {
		t.Errorf("summary %q", s)
	}
}
