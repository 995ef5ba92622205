package storetest

import (
	"testing"
	"time"

	"github.com/meetbot/meetbot/store"
)

// testAttendance plays a meeting whose listener moves to another replica halfway: the second
// replica sees the people still present join again (same uuid and join time) and must continue
// their intervals, not open new ones; a leave closes only the open interval; the meeting's end
// closes the rest.
func testAttendance(t *testing.T, newDB Factory) {
	h := newHarness(t, newDB)
	ctx, rs := h.ctx, h.replicas(2)
	m := meetingA.Key()
	t0 := created
	carol := store.AttendanceInterval{UUID: "u-carol", Name: "Carol Nguyen", Role: "host", Protocol: "webrtc", Joined: t0}
	bob := store.AttendanceInterval{UUID: "u-bob", Name: "Bob", Role: "guest", Protocol: "sip", Joined: t0.Add(2 * time.Minute)}
	bobAgain := bob
	bobAgain.Joined = t0.Add(20 * time.Minute)

	if got, err := rs[0].LastOccurrence(ctx, m); err != nil || got != "" {
		t.Fatalf("LastOccurrence of a meeting never held = %q, %v; want \"\"", got, err)
	}
	for _, iv := range []store.AttendanceInterval{carol, bob} {
		if err := rs[0].RecordJoin(ctx, m, "occ-1", iv); err != nil {
			t.Fatal(err)
		}
	}
	if err := rs[0].RecordLeave(ctx, m, "occ-1", bob.UUID, t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Replica 1 takes over and sees Carol (still in) and Bob's first stretch again from the
	// platform's start_time: neither reopens nor doubles.
	carolRenamed := carol
	carolRenamed.Name = "Carol N."
	for _, iv := range []store.AttendanceInterval{carolRenamed, bob, bobAgain} {
		if err := rs[1].RecordJoin(ctx, m, "occ-1", iv); err != nil {
			t.Fatal(err)
		}
	}
	// A leave of someone not present, or in another occurrence, changes nothing.
	if err := rs[1].RecordLeave(ctx, m, "occ-2", carol.UUID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := rs[1].RecordLeave(ctx, m, "occ-1", "u-nobody", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(time.Hour)
	if n, err := rs[1].CloseAttendance(ctx, m, "occ-1", end); err != nil || n != 2 {
		t.Fatalf("CloseAttendance = %d, %v; want 2 intervals closed (Carol, Bob's second)", n, err)
	}
	if n, err := rs[0].CloseAttendance(ctx, m, "occ-1", end.Add(time.Minute)); err != nil || n != 0 {
		t.Fatalf("CloseAttendance again = %d, %v; want 0", n, err)
	}
	got, err := rs[0].AttendanceOf(ctx, m, "occ-1")
	if err != nil {
		t.Fatal(err)
	}
	carolRenamed.Left = end
	bob.Left = t0.Add(10 * time.Minute)
	bobAgain.Left = end
	mustDiff(t, "attendance after a takeover", []store.AttendanceInterval{carolRenamed, bob, bobAgain}, got)

	// A later run of the meeting is the last occurrence; other meetings and runs stay apart.
	later := store.AttendanceInterval{UUID: "u-dan", Name: "Dan", Role: "guest", Protocol: "webrtc", Joined: t0.Add(24 * time.Hour)}
	if err := rs[0].RecordJoin(ctx, m, "occ-2", later); err != nil {
		t.Fatal(err)
	}
	if err := rs[0].RecordJoin(ctx, meetingB.Key(), "occ-9", store.AttendanceInterval{UUID: "x", Joined: t0.Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, err := rs[1].LastOccurrence(ctx, m); err != nil || got != "occ-2" {
		t.Errorf("LastOccurrence = %q, %v; want occ-2", got, err)
	}
	got, err = rs[1].AttendanceOf(ctx, m, "occ-2")
	if err != nil {
		t.Fatal(err)
	}
	mustDiff(t, "attendance of the later run (still open)", []store.AttendanceInterval{later}, got)
	if got, err := rs[1].AttendanceOf(ctx, m, "occ-none"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("AttendanceOf an unknown run = %v, %v; want empty", got, err)
	}
	if err := rs[0].RecordJoin(ctx, m, "occ-2", store.AttendanceInterval{UUID: "u-z"}); err == nil {
		t.Error("RecordJoin without a join time succeeded")
	}
}
