package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func TestParseSpec(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	shanghai := mustLoad(t, "Asia/Shanghai")
	// Thursday 26 November 2026, 10:00 UTC (11:00 in Berlin, 18:00 in Shanghai).
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

	ok := []struct {
		name     string
		spec     string
		loc      *time.Location
		text     string
		oneTime  bool
		wantNext time.Time // first run after now, in UTC
	}{
		{"cron weekdays in Berlin", "0 9 * * 1-5", berlin, "0 9 * * 1-5", false,
			time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)},
		{"cron spacing normalised", "  */15   * * *  * ", time.UTC, "*/15 * * * *", false,
			time.Date(2026, 11, 26, 10, 15, 0, 0, time.UTC)},
		{"cron names", "30 17 * dec fri", shanghai, "30 17 * dec fri", false,
			time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)},
		{"nil location is UTC", "0 12 * * *", nil, "0 12 * * *", false,
			time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)},
		{"one time in Shanghai", "2026-12-01 14:55", shanghai, "2026-12-01 14:55", true,
			time.Date(2026, 12, 1, 6, 55, 0, 0, time.UTC)},
		{"one time with T", "2026-12-01T14:55", berlin, "2026-12-01 14:55", true,
			time.Date(2026, 12, 1, 13, 55, 0, 0, time.UTC)},
		{"clock later today", "11:30", berlin, "2026-11-26 11:30", true,
			time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)},
		{"clock already passed means tomorrow", "09:30", berlin, "2026-11-27 09:30", true,
			time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC)},
		{"clock now means tomorrow", "11:00", berlin, "2026-11-27 11:00", true,
			time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSpec(tc.spec, tc.loc, now)
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tc.spec, err)
			}
			if s.Text != tc.text || s.OneTime != tc.oneTime {
				t.Errorf("got text %q oneTime %v, want %q %v", s.Text, s.OneTime, tc.text, tc.oneTime)
			}
			if got := s.Next(now); !got.Equal(tc.wantNext) {
				t.Errorf("next run %s, want %s", got.UTC(), tc.wantNext)
			}
		})
	}

	bad := []struct {
		name, spec string
		want       string // the whole message the user sees
	}{
		{"four fields", "0 9 * *",
			`"0 9 * *" is not a schedule: want 5 cron fields like "0 9 * * 1-5" or a date like 2026-12-01 14:55`},
		{"six fields", "0 0 9 * * *",
			`"0 0 9 * * *" is not a schedule: want 5 cron fields like "0 9 * * 1-5" or a date like 2026-12-01 14:55`},
		{"minute out of range", "61 9 * * *",
			`"61 9 * * *" is not a schedule: the minute field "61" is not valid (want 0-59)`},
		{"bad weekday", "0 9 * * mon-xyz",
			`"0 9 * * mon-xyz" is not a schedule: the day of week field "mon-xyz" is not valid (want 0-6 or sun-sat)`},
		{"descriptor", "@daily",
			`"@daily" is not a schedule: want 5 cron fields like "0 9 * * 1-5" or a date like 2026-12-01 14:55`},
		{"never", "0 0 30 2 *", `"0 0 30 2 *" never happens: no date matches it`},
		{"past", "2026-01-01 10:00",
			`"2026-01-01 10:00" is in the past: it is now 2026-11-26 11:00 (Europe/Berlin)`},
		{"seconds are not a form", "10:59:00",
			`"10:59:00" is not a schedule: want 5 cron fields like "0 9 * * 1-5" or a date like 2026-12-01 14:55`},
		{"no such month", "2026-13-01 10:00",
			`"2026-13-01 10:00" is not a schedule: want 5 cron fields like "0 9 * * 1-5" or a date like 2026-12-01 14:55`},
		{"a command", "lock",
			`"lock" is not a schedule: want 5 cron fields like "0 9 * * 1-5" or a date like 2026-12-01 14:55`},
		{"empty", "  ",
			`"  " is not a schedule: want 5 cron fields like "0 9 * * 1-5" or a date like 2026-12-01 14:55`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec(tc.spec, berlin, now)
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSpec(%q) = %v, want a *SpecError", tc.spec, err)
			}
			if got := se.UserMessage(); got != tc.want {
				t.Errorf("message\n got %s\nwant %s", got, tc.want)
			}
			// The core finds the message through this interface, not the type.
			var um interface{ UserMessage() string }
			if !errors.As(err, &um) {
				t.Error("error does not offer UserMessage through errors.As")
			}
		})
	}
}

func TestSlotAt(t *testing.T) {
	s, err := ParseSpec("*/5 * * * *", time.UTC, time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	nine := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		fired time.Time
		want  time.Time
	}{
		{nine, nine}, // on time
		{nine.Add(1500 * time.Millisecond), nine},        // a little late
		{nine.Add(4*time.Minute + 59*time.Second), nine}, // very late: still its slot
		{nine.Add(5 * time.Minute), nine.Add(5 * time.Minute)},
	} {
		if got := s.slotAt(tc.fired); !got.Equal(tc.want) {
			t.Errorf("slotAt(%s) = %s, want %s", tc.fired.Format(time.TimeOnly), got.Format(time.TimeOnly), tc.want.Format(time.TimeOnly))
		}
	}
	once, err := ParseSpec("2026-12-01 14:55", time.UTC, nine)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := once.slotAt(nine.Add(time.Hour)), time.Date(2026, 12, 1, 14, 55, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("one-time slot %s, want its moment %s", got, want)
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, seed := range []string{"0 9 * * 1-5", "*/5 * * * *", "2026-12-01 14:55", "2026-12-01T14:55",
		"15:04", "0 9 * *", "61 * * * *", "@daily", "TZ=UTC 0 9 * *", "0 0 30 2 *", "", "1-5/2,7 0-23/3 1,15 jan-mar sun"} {
		f.Add(seed)
	}
	loc := mustLoad(f, "Asia/Shanghai") // no daylight saving: every local time names one instant
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSpec(spec, loc, now)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSpec(%q) error %v is not a *SpecError", spec, err)
			}
			if strings.ContainsAny(se.UserMessage(), "\n\r") {
				t.Fatalf("refusal spans lines: %q", se.UserMessage())
			}
			return
		}
		next := s.Next(now)
		if !next.After(now) {
			t.Fatalf("ParseSpec(%q) accepted a spec whose next run %s is not after now", spec, next)
		}
		// The stored form reads back to the same schedule.
		back, err := parseStored(s.Text, s.OneTime, loc)
		if err != nil {
			t.Fatalf("stored form %q of %q does not read back: %v", s.Text, spec, err)
		}
		if back.Text != s.Text || !back.Next(now).Equal(next) {
			t.Fatalf("stored form %q of %q reads back as %q next %s, want next %s", s.Text, spec, back.Text, back.Next(now), next)
		}
	})
}

func BenchmarkParseSpec(b *testing.B) {
	loc := mustLoad(b, "Europe/Berlin")
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, spec := range []string{"0 9 * * 1-5", "2026-12-01 14:55", "61 9 * * *"} {
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				_, _ = ParseSpec(spec, loc, now)
			}
		})
	}
}

// BenchmarkSlotAt measures naming the slot of a run, which every replica does on every firing;
// the late case looks back minute by minute.
func BenchmarkSlotAt(b *testing.B) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	s, err := ParseSpec("0 9 * * *", time.UTC, now)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		fired time.Time
	}{{"on time", now}, {"an hour late", now.Add(time.Hour)}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				_ = s.slotAt(tc.fired)
			}
		})
	}
}

func TestCronFallBackRunsOnce(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	// On 1 November 2026 clocks in New York fall back from 02:00 EDT to 01:00 EST.
	before := time.Date(2026, 11, 1, 0, 0, 0, 0, ny)
	s, err := ParseSpec("30 1 * * *", ny, before)
	if err != nil {
		t.Fatal(err)
	}
	first := s.Next(before)
	if want := time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC); !first.Equal(want) { // 01:30 EDT
		t.Fatalf("first run %s, want %s", first.UTC(), want)
	}
	if got, want := s.Next(first), time.Date(2026, 11, 2, 6, 30, 0, 0, time.UTC); !got.Equal(want) { // 01:30 EST next day
		t.Errorf("run after the first %s, want %s (not 01:30 again an hour later)", got.UTC(), want)
	}
}

func TestShortestGap(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		spec string
		loc  *time.Location
		want time.Duration
	}{
		{"*/5 * * * *", time.UTC, 5 * time.Minute},
		{"0 9 * * 1-5", time.UTC, 24 * time.Hour},
		{"0,1 9 * * *", time.UTC, time.Minute},
		{"0 9 1 1 *", time.UTC, 365 * 24 * time.Hour},
		// Daylight-saving changes in Berlin skip or repeat 02:30; the gap never drops below a day.
		{"30 2 * * *", berlin, 24 * time.Hour},
	} {
		s, err := ParseSpec(tc.spec, tc.loc, now)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := s.shortestGap(now, 0); !ok || got != tc.want {
			t.Errorf("shortestGap(%q) = %s, %v; want %s", tc.spec, got, ok, tc.want)
		}
	}
	once, _ := ParseSpec("2026-12-01 09:00", time.UTC, now)
	if _, ok := once.shortestGap(now, 0); ok {
		t.Error("a one-time spec has a gap")
	}
}
