package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
)

// attendanceStore is what recording attendance needs of the store.
type attendanceStore interface {
	RecordJoin(ctx context.Context, meetingKey, occurrence string, iv store.AttendanceInterval) error
	RecordLeave(ctx context.Context, meetingKey, occurrence, uuid string, left time.Time) error
	AttendanceOf(ctx context.Context, meetingKey, occurrence string) ([]store.AttendanceInterval, error)
}

// attendanceLog writes one run of a meeting's attendance to the store as participants join and
// leave; nothing is written between events, so an idle meeting costs nothing.
//
// A listener that starts over (a restart, a takeover by another replica) makes a new log. Its
// first sync lists everyone present with the platform's start_time, the same join time the old
// listener recorded, so their intervals continue (RecordJoin is idempotent on uuid and join
// time); at the sync's end, intervals still open in the store for participants the sync did not
// list are closed then: they left while no one listened, and are counted until the listener
// learned it (at most the takeover's gap late), never twice.
type attendanceLog struct {
	st    attendanceStore
	key   string // the meeting's MeetingRef.Key
	occ   string // the run's chat.MeetingState.Occurrence
	isBot func(meetings.Participant) bool

	open    map[string]bool // uuids with an interval this log knows to be open
	syncing bool
	synced  map[string]bool // uuids listed by the sync under way
}

func newAttendanceLog(st attendanceStore, key, occurrence string, isBot func(meetings.Participant) bool) *attendanceLog {
	return &attendanceLog{st: st, key: key, occ: occurrence, isBot: isBot, open: map[string]bool{}}
}

// counts reports whether p is a person in the meeting: not the bot, not a recorder or live
// stream, and past the waiting room and the IVR.
func (a *attendanceLog) counts(p meetings.Participant) bool {
	if p.IsStreaming || (a.isBot != nil && a.isBot(p)) {
		return false
	}
	return p.ServiceType == "" || p.ServiceType == "conference" || p.ServiceType == "gateway"
}

// observe records what ev changes in attendance, as of now.
func (a *attendanceLog) observe(ctx context.Context, ev meetings.Event, now time.Time) error {
	switch ev := ev.(type) {
	case meetings.SyncBegin:
		a.syncing, a.synced = true, map[string]bool{}
	case meetings.SyncEnd:
		a.syncing = false
		return a.closeUnlisted(ctx, now)
	case meetings.ParticipantCreated:
		return a.seen(ctx, ev.Participant, now)
	case meetings.ParticipantUpdated:
		return a.seen(ctx, ev.Participant, now)
	case meetings.ParticipantDeleted:
		return a.left(ctx, ev.UUID, now)
	}
	return nil
}

func (a *attendanceLog) seen(ctx context.Context, p meetings.Participant, now time.Time) error {
	if !a.counts(p) {
		if a.open[p.UUID] { // admitted and back in a waiting room, or found to be the bot's
			return a.left(ctx, p.UUID, now)
		}
		return nil
	}
	if a.syncing {
		a.synced[p.UUID] = true
	}
	if a.open[p.UUID] {
		return nil
	}
	joined := now
	if p.StartTime > 0 && p.StartTime <= now.Unix() {
		joined = time.Unix(p.StartTime, 0).UTC()
	}
	iv := store.AttendanceInterval{UUID: p.UUID, Name: p.DisplayName, Role: roleWord(p.Role), Protocol: p.Protocol, Joined: joined}
	if err := a.st.RecordJoin(ctx, a.key, a.occ, iv); err != nil {
		return fmt.Errorf("attendance: %w", err)
	}
	a.open[p.UUID] = true
	return nil
}

func (a *attendanceLog) left(ctx context.Context, uuid string, now time.Time) error {
	if !a.open[uuid] {
		return nil
	}
	if err := a.st.RecordLeave(ctx, a.key, a.occ, uuid, now); err != nil {
		return fmt.Errorf("attendance: %w", err)
	}
	delete(a.open, uuid)
	return nil
}

// closeUnlisted closes the stored open intervals of participants the sync just ended did not
// list, and forgets those this log held open.
func (a *attendanceLog) closeUnlisted(ctx context.Context, now time.Time) error {
	ivs, err := a.st.AttendanceOf(ctx, a.key, a.occ)
	if err != nil {
		return fmt.Errorf("attendance: %w", err)
	}
	for _, iv := range ivs {
		if iv.Left.IsZero() && !a.synced[iv.UUID] {
			a.open[iv.UUID] = true
			if err := a.left(ctx, iv.UUID, now); err != nil {
				return err
			}
		}
	}
	a.synced = nil
	return nil
}

// roleWord is the platform's role as the report words it.
func roleWord(role string) string {
	if role == "chair" {
		return "host"
	}
	return "guest"
}

// recordAttendance hands ev to the log of the meeting's current run, making one when the run
// changes. It runs on the event loop without the listener's lock, since it writes to the store.
// Until the tracker names the run (chat.MeetingState.Occurrence), nothing is recorded.
func (l *Listener) recordAttendance(ev meetings.Event, now time.Time) {
	l.mu.Lock()
	occ := l.tr.Occurrence() // not the whole state: this runs for every event of a storm
	l.mu.Unlock()
	if occ == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), 5*time.Second)
	defer cancel()
	if l.att == nil || l.att.occ != occ {
		l.att = newAttendanceLog(l.sup.Store, l.key, occ, l.isBot)
		l.mu.Lock()
		var people []meetings.Participant
		if l.tr.Primed() {
			people = l.tr.People()
		}
		l.mu.Unlock()
		// The run began after the first sync: the people already in joined it now.
		for _, p := range people {
			if err := l.att.observe(ctx, meetings.ParticipantCreated{Participant: p}, now); err != nil {
				l.log.Warn("attendance not recorded", "err", err)
			}
		}
	}
	if err := l.att.observe(ctx, ev, now); err != nil {
		l.log.Warn("attendance not recorded", "err", err)
	}
}
