// Package attendance turns who was in a meeting and when into what a host asks for afterwards:
// one row per person (first joined, last left, minutes present, times joined) as a CSV file that
// spreadsheet programs open with CJK names intact, and a small chart of how many were in the
// meeting over time, marked with who presented when.
//
// It is pure: intervals in, bytes out. Where the intervals come from (the relay, kept in the
// store per meeting occurrence so a restart or a takeover counts nothing twice) is its callers'
// business. Nothing in it is shared or locked; a Report may be used from one goroutine at a time.
package attendance

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Interval is one stay of one participant: from joining to leaving. Left is zero while they are
// still in the meeting.
type Interval struct {
	UUID     string // the platform's participant uuid; a person who rejoins gets a new one
	Name     string // display name
	Role     string // "host" or "guest"
	Protocol string // "webrtc", "sip", …
	Joined   time.Time
	Left     time.Time
}

// Presentation is one stretch of someone presenting. To is zero while it goes on.
type Presentation struct {
	Name     string
	From, To time.Time
}

// Report is one occurrence of a meeting: who was in it, who presented, and when it ran.
type Report struct {
	Meeting       string // the meeting's name, for the chart's title
	Start, End    time.Time
	Intervals     []Interval
	Presentations []Presentation
	// Location is the time zone the times are shown in (the channel's); nil is UTC.
	Location *time.Location
}

// Person is one row of the report: everyone with the same display name is one person, since the
// platform gives every join a new uuid.
type Person struct {
	Name        string
	Role        string // the highest role they had: host over guest
	Protocol    string // of their first join
	FirstJoined time.Time
	LastLeft    time.Time // zero when still in the meeting
	Present     time.Duration
	Joins       int
}

// Minutes returns the minutes present, rounded to the nearest whole minute but never below one
// for someone who was there at all.
func (p Person) Minutes() int {
	m := int((p.Present + 30*time.Second) / time.Minute)
	if m == 0 && p.Present > 0 {
		return 1
	}
	return m
}

// end is when an open interval or presentation is taken to end: the report's end, else now.
func (r Report) end(now time.Time) time.Time {
	if !r.End.IsZero() {
		return r.End
	}
	return now
}

// People returns one row per person, in order of first joining. Overlapping stays of one person
// (two devices) count once towards the time present. now closes intervals still open when the
// report has no End.
func (r Report) People(now time.Time) []Person {
	end := r.end(now)
	byName := map[string]*Person{}
	spans := map[string][][2]time.Time{}
	open := map[string]bool{}
	var order []string
	for _, iv := range r.Intervals {
		key := strings.TrimSpace(iv.Name)
		p, ok := byName[key]
		if !ok {
			p = &Person{Name: iv.Name, Role: "guest", Protocol: iv.Protocol, FirstJoined: iv.Joined}
			byName[key] = p
			order = append(order, key)
		}
		p.Joins++
		if iv.Joined.Before(p.FirstJoined) {
			p.FirstJoined, p.Protocol = iv.Joined, iv.Protocol
		}
		if strings.EqualFold(iv.Role, "host") || strings.EqualFold(iv.Role, "chair") {
			p.Role = "host"
		}
		left := iv.Left
		if left.IsZero() {
			open[key], left = true, end
		} else if left.After(p.LastLeft) {
			p.LastLeft = left
		}
		spans[key] = append(spans[key], [2]time.Time{iv.Joined, left})
	}
	out := make([]Person, 0, len(order))
	for _, key := range order {
		p := byName[key]
		if open[key] {
			p.LastLeft = time.Time{} // still in the meeting
		}
		p.Present = union(spans[key])
		out = append(out, *p)
	}
	slices.SortStableFunc(out, func(a, b Person) int { return a.FirstJoined.Compare(b.FirstJoined) })
	return out
}

// union returns the total length of spans, counting overlaps once.
func union(spans [][2]time.Time) time.Duration {
	slices.SortFunc(spans, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	var total time.Duration
	var from, to time.Time
	started := false
	for _, s := range spans {
		if s[1].Before(s[0]) {
			continue // a clock step backwards; such a stay counts for nothing
		}
		if started && !s[0].After(to) {
			if s[1].After(to) {
				to = s[1]
			}
			continue
		}
		if started {
			total += to.Sub(from)
		}
		from, to, started = s[0], s[1], true
	}
	if started {
		total += to.Sub(from)
	}
	return total
}

// csvHeader names the columns of the CSV file.
var csvHeader = []string{"Name", "Role", "Protocol", "First joined", "Last left", "Minutes present", "Times joined"}

// byteOrderMark starts the file so spreadsheet programs read it as UTF-8 (without it Excel shows
// CJK names as mojibake).
const byteOrderMark = "\ufeff"

// WriteCSV writes one row per person: UTF-8 with a byte-order mark, times as "2006-01-02 15:04"
// in the report's time zone, and "still in" for someone who has not left.
func (r Report) WriteCSV(w io.Writer, now time.Time) error {
	if _, err := io.WriteString(w, byteOrderMark); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	loc := cmp.Or(r.Location, time.UTC)
	for _, p := range r.People(now) {
		left := "still in"
		if !p.LastLeft.IsZero() {
			left = p.LastLeft.In(loc).Format("2006-01-02 15:04")
		}
		row := []string{
			csvSafe(p.Name), p.Role, p.Protocol,
			p.FirstJoined.In(loc).Format("2006-01-02 15:04"), left,
			strconv.Itoa(p.Minutes()), strconv.Itoa(p.Joins),
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a display name from being run as a formula by a spreadsheet program: a participant
// named "=HYPERLINK(…)" is data, so a leading =, +, -, @ or tab is quoted with an apostrophe, as
// OWASP advises for CSV injection.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// Summary is a one-line description for the message that carries the files.
func (r Report) Summary(now time.Time) string {
	people := r.People(now)
	end := r.end(now)
	d := end.Sub(r.Start).Round(time.Minute)
	return fmt.Sprintf("Attendance of %s: %d %s over %s.", r.Meeting, len(people), plural(len(people), "person", "people"), d)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
