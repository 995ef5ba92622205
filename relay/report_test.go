package relay

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/meetbot/meetbot/attendance"
	"github.com/meetbot/meetbot/store"
)

// TestReportFiles: the report a channel gets is a CSV a spreadsheet opens (BOM, one row per
// person, times in the channel's zone) and a PNG that decodes.
func TestReportFiles(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	ivs := []store.AttendanceInterval{
		{UUID: "a", Name: "Carol Nguyen", Role: "host", Protocol: "webrtc", Joined: t0, Left: t0.Add(40 * time.Minute)},
		{UUID: "b", Name: "王小明", Role: "guest", Protocol: "sip", Joined: t0.Add(5 * time.Minute), Left: t0.Add(15 * time.Minute)},
		{UUID: "c", Name: "王小明", Role: "guest", Protocol: "sip", Joined: t0.Add(20 * time.Minute)},
	}
	pres := []attendance.Presentation{{Name: "Carol Nguyen", From: t0.Add(2 * time.Minute), To: t0.Add(10 * time.Minute)}}
	summary, files, err := reportFiles("Weekly", ivs, pres, "Asia/Tokyo", t0.Add(45*time.Minute), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if summary == "" || len(files) != 2 {
		t.Fatalf("summary %q, %d files", summary, len(files))
	}
	csv, chart := files[0], files[1]
	if csv.MIME != "text/csv" || !bytes.HasPrefix(csv.Data, []byte("\ufeff")) || !strings.HasSuffix(csv.Name, ".csv") {
		t.Errorf("csv file %s %s starts %q", csv.Name, csv.MIME, csv.Data[:min(10, len(csv.Data))])
	}
	text := string(csv.Data)
	if !strings.Contains(text, "Carol Nguyen") || strings.Count(text, "王小明") != 1 || !strings.Contains(text, "23:00") {
		t.Errorf("csv does not list each person once with Tokyo times:\n%s", text)
	}
	if csv.Name != "attendance-2026-12-01-2300.csv" {
		t.Errorf("csv named %q, want the run's start in the channel's zone", csv.Name)
	}
	if chart.MIME != "image/png" {
		t.Errorf("chart MIME %q", chart.MIME)
	}
	if _, err := png.Decode(bytes.NewReader(chart.Data)); err != nil {
		t.Errorf("chart does not decode: %v", err)
	}
}
