package relay

import (
	"bytes"
	"fmt"
	"time"

	"github.com/meetbot/meetbot/attendance"
	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// reportFiles makes the attendance report of one run of a meeting as a channel gets it: the CSV
// (times in zone, the channel's time zone; UTC when empty or unknown) and the headcount chart,
// with a one-line summary for the message. now closes intervals still open when end is zero (a
// `report` of the meeting running).
func reportFiles(meetingName string, ivs []store.AttendanceInterval, presentations []attendance.Presentation,
	zone string, end, now time.Time) (string, []chat.File, error) {
	loc := time.UTC
	if zone != "" {
		if l, err := time.LoadLocation(zone); err == nil {
			loc = l
		}
	}
	r := attendance.Report{Meeting: meetingName, End: end, Presentations: presentations, Location: loc}
	for _, iv := range ivs {
		r.Intervals = append(r.Intervals, attendance.Interval(iv))
		if r.Start.IsZero() || iv.Joined.Before(r.Start) {
			r.Start = iv.Joined
		}
	}
	var csv bytes.Buffer
	if err := r.WriteCSV(&csv, now); err != nil {
		return "", nil, fmt.Errorf("attendance csv: %w", err)
	}
	png, err := r.ChartPNG(now)
	if err != nil {
		return "", nil, fmt.Errorf("attendance chart: %w", err)
	}
	day := r.Start.In(loc).Format("2006-01-02-1504")
	summary := r.Summary(now)
	files := []chat.File{
		{Name: "attendance-" + day + ".csv", MIME: "text/csv", Data: csv.Bytes(), AltText: "Attendance: " + summary},
		{Name: "attendance-" + day + ".png", MIME: "image/png", Data: png, AltText: "People in the meeting over time"},
	}
	return summary, files, nil
}
