package scheduler

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// The forms of a one-time spec, tried in order. The first two name a date; the last names a time
// of day, meaning its next occurrence (today if it is still ahead, else tomorrow).
const (
	layoutDateTime  = "2006-01-02 15:04"
	layoutDateTimeT = "2006-01-02T15:04"
	layoutClock     = "15:04"
)

// maxSpecLen bounds what ParseSpec reads, so outside input cannot make it work hard.
const maxSpecLen = 120

// example is the hint every refusal of a malformed spec ends with.
const example = `want 5 cron fields like "0 9 * * 1-5" or a date like 2026-12-01 14:55`

// cronParser reads the 5-field form gocron's CronJob(spec, false) reads (robfig/cron's standard
// fields), without descriptors such as @daily and without a TZ= prefix: the time zone is the
// channel's.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// cronFields names the five fields and their ranges, for refusals.
var cronFields = [5]struct{ name, want string }{
	{"minute", "0-59"},
	{"hour", "0-23"},
	{"day of month", "1-31"},
	{"month", "1-12 or jan-dec"},
	{"day of week", "0-6 or sun-sat"},
}

// Spec is a parsed schedule: either a cron expression read in a time zone, or one moment.
type Spec struct {
	// Text is the spec in its canonical form, as it is stored: the five cron fields separated by
	// single spaces, or a one-time moment as "2006-01-02 15:04" in Location (so "15:04" becomes
	// the date it meant when it was scheduled).
	Text string
	// OneTime is true for a single moment, false for a cron expression.
	OneTime bool
	// At is the moment of a one-time spec; zero for cron.
	At time.Time
	// Location is the time zone the spec is read in.
	Location *time.Location

	cron cron.Schedule
}

// Next returns the first time the spec fires strictly after t, or the zero time when it never
// does again.
func (s Spec) Next(t time.Time) time.Time {
	if s.OneTime {
		if s.At.After(t) {
			return s.At
		}
		return time.Time{}
	}
	if s.cron == nil {
		return time.Time{}
	}
	next := s.cron.Next(t)
	if next.IsZero() || s.Location == nil {
		return next
	}
	// When clocks fall back, 01:30 happens twice; a schedule for 01:30 runs at the first only.
	a, b := t.In(s.Location), next.In(s.Location)
	if sameWallMinute(a, b) {
		return s.cron.Next(next)
	}
	return next
}

// sameWallMinute reports whether a and b show the same date, hour and minute.
func sameWallMinute(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd && a.Hour() == b.Hour() && a.Minute() == b.Minute()
}

// slotAt returns the slot a run that fires at t belongs to: the latest time at or before t at
// which the spec fires, truncated to the minute. It depends only on the spec and on the replica's
// clock reading when its own timer fired, so every replica names the same slot even when their
// clocks disagree by seconds or minutes.
func (s Spec) slotAt(t time.Time) time.Time {
	if s.OneTime {
		return s.At.Truncate(time.Minute)
	}
	m := t.Truncate(time.Minute)
	if s.cron == nil {
		return m
	}
	// A timer fires at its slot or a little after; look back at most a day.
	for i := range 24 * 60 {
		c := m.Add(-time.Duration(i) * time.Minute)
		if s.cron.Next(c.Add(-time.Second)).Equal(c) {
			return c
		}
	}
	return m
}

// gapRuns and gapSpan bound how far shortestGap looks ahead: enough runs and time to see every
// pattern of a cron line (the fields repeat within a year), little enough to cost microseconds.
const (
	gapRuns = 1000
	gapSpan = 400 * 24 * time.Hour
)

// shortestGap returns the shortest time between two consecutive runs of a cron spec over its
// runs after now (at most gapRuns of them, within gapSpan of the first), stopping early at a gap
// below floor. ok is false when the spec runs fewer than twice. Gaps are real time, so a schedule
// whose wall-clock runs crowd together at a daylight-saving change is judged by what happens.
func (s Spec) shortestGap(now time.Time, floor time.Duration) (gap time.Duration, ok bool) {
	if s.OneTime {
		return 0, false
	}
	first := s.Next(now)
	prev := first
	for range gapRuns {
		if prev.IsZero() {
			break
		}
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		if d := next.Sub(prev); !ok || d < gap {
			gap, ok = d, true
			if gap < floor {
				break
			}
		}
		if next.Sub(first) > gapSpan {
			break
		}
		prev = next
	}
	return gap, ok
}

// humanDuration writes d for a sentence: "5 minutes", "1 hour", "90 seconds".
func humanDuration(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	case d%time.Second == 0:
		return unit(int64(d/time.Second), "second")
	}
	return d.String()
}

// SpecError is a schedule spec that cannot be used: malformed, impossible or in the past. Its
// message is safe and meant to be shown to the user as is.
type SpecError struct {
	Spec   string // what the user wrote
	Reason string // why it is refused, a phrase that follows the quoted spec
}

// Error returns the message shown to the user.
func (e *SpecError) Error() string { return e.UserMessage() }

// UserMessage returns one line telling the user why the spec was refused, e.g.
// `"0 9 * *" is not a schedule: want 5 cron fields like "0 9 * * 1-5" or a date like 2026-12-01 14:55`.
func (e *SpecError) UserMessage() string {
	return fmt.Sprintf("%q %s", e.Spec, e.Reason)
}

// ParseSpec reads a schedule spec in loc (UTC when nil) as of now.
//
// A spec is either a 5-field cron expression ("0 9 * * 1-5": minute, hour, day of month, month,
// day of week, as in crontab, without descriptors or seconds) or one moment: "2006-01-02 15:04",
// "2006-01-02T15:04", or "15:04" for the next time the clock shows 15:04 (today if still ahead,
// else tomorrow). Both forms are read in loc. A moment that is not after now, a cron expression
// that never fires and anything malformed are refused with a *SpecError.
func ParseSpec(spec string, loc *time.Location, now time.Time) (Spec, error) {
	if loc == nil {
		loc = time.UTC
	}
	text := strings.TrimSpace(spec)
	if text == "" {
		return Spec{}, &SpecError{Spec: spec, Reason: "is not a schedule: " + example}
	}
	if len(text) > maxSpecLen {
		return Spec{}, &SpecError{Spec: text[:20] + "…", Reason: "is too long for a schedule: " + example}
	}
	fields := strings.Fields(text)
	if len(fields) == 5 {
		s, err := parseCron(fields, loc)
		if err != nil {
			return Spec{}, err
		}
		if s.Next(now).IsZero() {
			return Spec{}, &SpecError{Spec: s.Text, Reason: "never happens: no date matches it"}
		}
		return s, nil
	}
	at, ok := parseMoment(text, loc, now)
	if !ok {
		return Spec{}, &SpecError{Spec: text, Reason: "is not a schedule: " + example}
	}
	if !at.After(now) {
		return Spec{}, &SpecError{Spec: text, Reason: fmt.Sprintf("is in the past: it is now %s (%s)",
			now.In(loc).Format(layoutDateTime), loc)}
	}
	return oneTime(at, loc), nil
}

// parseStored reads a spec the store kept, as ParseSpec would but with no check against the
// present: a stored one-time moment may have passed while the bot was down.
func parseStored(text string, isOneTime bool, loc *time.Location) (Spec, error) {
	if !isOneTime {
		return parseCron(strings.Fields(text), loc)
	}
	for _, layout := range []string{layoutDateTime, layoutDateTimeT} {
		if at, err := time.ParseInLocation(layout, strings.TrimSpace(text), loc); err == nil {
			return oneTime(at, loc), nil
		}
	}
	return Spec{}, &SpecError{Spec: text, Reason: "is not a stored one-time schedule"}
}

func oneTime(at time.Time, loc *time.Location) Spec {
	at = at.In(loc)
	return Spec{Text: at.Format(layoutDateTime), OneTime: true, At: at, Location: loc}
}

// parseMoment reads the one-time forms.
func parseMoment(text string, loc *time.Location, now time.Time) (time.Time, bool) {
	for _, layout := range []string{layoutDateTime, layoutDateTimeT} {
		if at, err := time.ParseInLocation(layout, text, loc); err == nil {
			return at, true
		}
	}
	clock, err := time.Parse(layoutClock, text)
	if err != nil {
		return time.Time{}, false
	}
	local := now.In(loc)
	at := time.Date(local.Year(), local.Month(), local.Day(), clock.Hour(), clock.Minute(), 0, 0, loc)
	if !at.After(now) {
		at = time.Date(local.Year(), local.Month(), local.Day()+1, clock.Hour(), clock.Minute(), 0, 0, loc)
	}
	return at, true
}

// parseCron reads five cron fields in loc.
func parseCron(fields []string, loc *time.Location) (Spec, error) {
	text := strings.Join(fields, " ")
	if len(fields) != 5 {
		return Spec{}, &SpecError{Spec: text, Reason: "is not a schedule: " + example}
	}
	sched, err := cronParser.Parse(text)
	if err != nil {
		return Spec{}, &SpecError{Spec: text, Reason: "is not a schedule: " + badField(fields)}
	}
	if ss, ok := sched.(*cron.SpecSchedule); ok {
		ss.Location = loc
	}
	return Spec{Text: text, Location: loc, cron: sched}, nil
}

// badField names the first field the cron parser refuses on its own.
func badField(fields []string) string {
	for i, f := range fields {
		probe := []string{"*", "*", "*", "*", "*"}
		probe[i] = f
		if _, err := cronParser.Parse(strings.Join(probe, " ")); err != nil {
			return fmt.Sprintf("the %s field %q is not valid (want %s)", cronFields[i].name, f, cronFields[i].want)
		}
	}
	return example
}
