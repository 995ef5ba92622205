package relay

import (
	"context"
	"testing"
	"time"

	"github.com/meetbot/meetbot/attendance"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/sqlite"
)

// TestAttendanceAcrossTakeover plays a meeting whose listener is killed halfway and replaced by
// another (a new log over the same store, as a replica taking over has): the report counts each
// person once, with the minutes they were really there; the bot and a recorder are not people;
// someone who left while no one listened is closed when the new listener's first sync ends.
func TestAttendanceAcrossTakeover(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Memory, testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	person := func(uuid, name, role string, joinedMin int) meetings.Participant {
		return meetings.Participant{UUID: uuid, DisplayName: name, Role: role, Protocol: "webrtc",
			ServiceType: "conference", StartTime: at(joinedMin).Unix()}
	}
	carol := person("u-carol", "Carol Nguyen", "chair", 0)
	bob := person("u-bob", "Bob", "guest", 1)
	erin := person("u-erin", "Erin", "guest", 20)
	dan := person("u-dan", "Dan", "guest", 15)
	bot := person("u-bot", "meetbot", "chair", 0)
	rec := person("u-rec", "Recorder", "guest", 2)
	rec.IsStreaming = true
	waiting := person("u-wait", "Wendy", "guest", 5)
	waiting.ServiceType = "waiting_room"
	isBot := func(p meetings.Participant) bool { return p.UUID == bot.UUID }
	key, occ := "https://api.example.com#1061", "occ-1"

	play := func(log *attendanceLog, steps []struct {
		min int
		ev  meetings.Event
	}) {
		t.Helper()
		for _, s := range steps {
			if err := log.observe(ctx, s.ev, at(s.min)); err != nil {
				t.Fatal(err)
			}
		}
	}
	type step = struct {
		min int
		ev  meetings.Event
	}
	first := newAttendanceLog(st, key, occ, isBot)
	play(first, []step{
		{0, meetings.SyncBegin{}},
		{0, meetings.ParticipantCreated{Participant: carol}},
		{0, meetings.ParticipantCreated{Participant: bot}},
		{0, meetings.SyncEnd{}},
		{1, meetings.ParticipantCreated{Participant: bob}},
		{2, meetings.ParticipantCreated{Participant: rec}},
		{3, meetings.ParticipantUpdated{Participant: carol}}, // an update is no second join
		{5, meetings.ParticipantCreated{Participant: waiting}},
		{10, meetings.ParticipantDeleted{UUID: bob.UUID}},
		{15, meetings.ParticipantCreated{Participant: dan}},
		{20, meetings.ParticipantCreated{Participant: erin}},
	})
	// SIGKILL at minute 25; Erin leaves at 27 while no one listens; the new listener starts at 30.
	second := newAttendanceLog(st, key, occ, isBot)
	play(second, []step{
		{30, meetings.SyncBegin{}},
		{30, meetings.ParticipantCreated{Participant: carol}},
		{30, meetings.ParticipantCreated{Participant: dan}},
		{30, meetings.ParticipantCreated{Participant: bot}},
		{30, meetings.SyncEnd{}},
		{40, meetings.ParticipantDeleted{UUID: carol.UUID}},
		{45, meetings.ParticipantDeleted{UUID: dan.UUID}},
	})
	ivs, err := st.AttendanceOf(ctx, key, occ)
	if err != nil {
		t.Fatal(err)
	}
	r := attendance.Report{End: at(45)}
	for _, iv := range ivs {
		r.Intervals = append(r.Intervals, attendance.Interval(iv))
	}
	type row struct {
		name, role  string
		minutes, in int
	}
	var got []row
	for _, p := range r.People(at(45)) {
		got = append(got, row{p.Name, p.Role, p.Minutes(), p.Joins})
	}
	want := []row{
		{"Carol Nguyen", "host", 40, 1},
		{"Bob", "guest", 9, 1},
		{"Dan", "guest", 30, 1},
		{"Erin", "guest", 10, 1}, // left at 27, learned at 30: within the takeover's gap
	}
	if len(got) != len(want) {
		t.Fatalf("report rows = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

var _ attendanceStore = store.Store(nil)
