package relay

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
)

// tracker follows one meeting from its events: the roster, who presents, the lock and mute state,
// and the statistics a summary reports (when it started, the peak, everyone seen, the
// presenters). It is pure: events and the time go in, notices and the meeting's state come out.
// It reads no clock, starts no goroutine, does no I/O and is not safe for concurrent use; the
// listener serialises it under its lock, and tests drive it with a table.
type tracker struct {
	name, room string
	bot        string                          // the bot's display name, for the removal notice
	isBot      func(meetings.Participant) bool // the one test of "is this the bot itself"

	roster *meetings.Roster
	primed bool // the roster has a baseline (a first sync, or a restored roster)
	// quietLeaves is set by a disconnect that ended the meeting: the leaves of the next sync are
	// covered by "the meeting ended".
	quietLeaves bool
	presenter   presenter
	locked      bool
	guestsMuted bool
	started     time.Time
	// startGuessed: started is when a restored tracker began, not when the meeting did.
	startGuessed bool
	peak         int
	seen         map[string]bool
	presenters   []string
	dirty        bool // the roster changed since the last snapshot
	// present counts the people in the roster, the bot left out, without sorting it at every
	// event; it is recounted at every sync.
	present int
	// waitingForHost is the platform's started: false; hostNoticed says the channel heard once,
	// for this occurrence, that people wait for a host.
	waitingForHost, hostNoticed bool
	// streamSince is when each recording or live stream, by uuid, was seen to connect.
	streamSince map[string]time.Time
	// joinURL is the meeting's web join page (MEET_JOIN_URL expanded), or "".
	joinURL string
}

type presenter struct {
	active bool
	name   string
	uuid   string // "" when only presentation_start named them
}

// exit says what a disconnect event of the bot's own participant means for the listener.
type exit int

const (
	// stay: nothing to do, the session starts over at once (its token lapsed, or the stream
	// says nothing the relay acts on).
	stay exit = iota
	// ended: the meeting ended; post the summary and come back only after a pause, so the bot
	// does not hold a just-ended meeting open.
	ended
	// removed: a host removed the bot; tell the channels, pause the links, do not come back.
	removed
)

func (e exit) String() string {
	switch e {
	case ended:
		return "ended"
	case removed:
		return "removed"
	}
	return "stay"
}

// Disconnect reasons the platform's lineage sends (the simulator sends the same).
const (
	reasonTokenLapsed = "Timer expired awaiting token refresh"
	reasonHostEnded   = "Conference terminated by a Host participant"
	reasonAPIKick     = "API initiated participant disconnect"
	reasonAdminKick   = "Disconnected by an administrator"
)

// classifyDisconnect tells apart why the platform disconnected the bot's participant, from the
// event's reason where it says, else from whether anyone else is still present. An API kick
// with no one else left cannot be told from a meeting ended through the API (older nodes give
// both that reason), and is treated as an end: the bot comes back after a pause rather than
// never.
func classifyDisconnect(reason string, othersPresent int) exit {
	switch strings.TrimSpace(reason) {
	case reasonTokenLapsed:
		return stay
	case reasonHostEnded:
		return ended
	}
	if othersPresent > 0 {
		return removed
	}
	return ended
}

// newTracker returns the tracker of a meeting named name in room. With restore, the saved
// roster is the baseline, so the first sync reports what changed while no one listened; with
// restore nil (a brand-new link) the first sync is silent. now is when the tracker starts.
func newTracker(name, room, bot string, isBot func(meetings.Participant) bool, restore []store.RosterEntry, now time.Time) *tracker {
	t := &tracker{
		name: name, room: room, bot: bot, isBot: isBot,
		roster:      meetings.NewRoster(),
		seen:        map[string]bool{},
		streamSince: map[string]time.Time{},
	}
	if restore != nil {
		ps := make([]meetings.Participant, 0, len(restore))
		for _, e := range restore {
			ps = append(ps, meetings.Participant{UUID: e.UUID, DisplayName: e.Name, Role: e.Role, IsPresenting: e.Presenting, IsStreaming: e.Streaming, ServiceType: "conference"})
			t.seen[e.UUID] = true
			if e.Presenting && !t.presenter.active {
				t.presenter = presenter{active: true, name: e.Name, uuid: e.UUID}
				t.presenters = append(t.presenters, e.Name)
			}
		}
		t.roster.Restore(ps)
		t.primed = true
		t.peak = len(ps)
		t.present = len(t.persons())
		if len(ps) > 0 {
			// A meeting was running; when it began is known after the first sync (start
			// times), unless everyone left meanwhile.
			t.started, t.startGuessed = now, true
		}
	}
	return t
}

// Primed reports whether the roster has its baseline.
func (t *tracker) Primed() bool { return t.primed }

// People returns who is in the meeting, the bot left out, in order of joining: the roster
// commands resolve names in, recordings and live streams included.
func (t *tracker) People() []meetings.Participant {
	all := t.roster.Participants()
	out := all[:0:0]
	for _, p := range all {
		if !t.isBot(p) {
			out = append(out, p)
		}
	}
	return out
}

// persons is People without the recordings and live streams: who is counted and announced.
func (t *tracker) persons() []meetings.Participant {
	all := t.People()
	out := all[:0:0]
	for _, p := range all {
		if !p.IsStreaming {
			out = append(out, p)
		}
	}
	return out
}

// Snapshot returns the roster to save and whether it changed since the last Snapshot.
func (t *tracker) Snapshot() (entries []store.RosterEntry, changed bool) {
	changed, t.dirty = t.dirty && t.primed, false
	if !changed {
		return nil, false
	}
	people := t.People()
	entries = make([]store.RosterEntry, 0, len(people))
	for _, p := range people {
		entries = append(entries, store.RosterEntry{UUID: p.UUID, Name: p.DisplayName, Role: p.Role, Presenting: p.IsPresenting, Streaming: p.IsStreaming})
	}
	return entries, true
}

// Apply applies one event that happened at now and returns the notices it causes, in order, and
// for a disconnect of the bot what the listener should do next.
func (t *tracker) Apply(ev meetings.Event, now time.Time) ([]notice, exit) {
	var ns []notice
	switch e := ev.(type) {
	case meetings.SyncBegin, meetings.SyncEnd, meetings.ParticipantCreated, meetings.ParticipantUpdated, meetings.ParticipantDeleted:
		changes := t.roster.Apply(ev)
		// The roster is already as it is after these changes: count it so, so that a sync's
		// joins, reported before its leaves, do not raise the peak.
		for _, c := range changes {
			if t.isBot(c.Participant) || c.Participant.IsStreaming || c.Before.IsStreaming {
				continue
			}
			switch c.Kind {
			case meetings.Joined:
				t.present++
			case meetings.Left:
				t.present = max(t.present-1, 0)
			}
		}
		left := false
		for _, c := range changes {
			n, gone := t.onChange(c, now)
			ns = append(ns, n...)
			left = left || gone
		}
		if len(changes) > 0 {
			t.dirty = true
		}
		if _, ok := ev.(meetings.SyncEnd); ok {
			t.afterSync(now)
		}
		if left {
			ns = append(ns, t.endIfEmpty(now)...)
		}
	case meetings.PresentationStarted:
		ns = append(ns, t.presentationOn(e.PresenterName, "")...)
	case meetings.PresentationStopped:
		ns = append(ns, t.presentationOff("", "")...)
	case meetings.ServiceUpdated:
		// Lock and mute changes are announced by the command replies; keep them for the status.
		t.locked, t.guestsMuted = e.Locked, e.GuestsMuted
		t.waitingForHost = !e.Started
		ns = append(ns, t.hostWait()...)
	case meetings.MessageReceived:
		if t.isBot(meetings.Participant{UUID: e.UUID, DisplayName: e.Origin}) {
			break // the bot's own `say`
		}
		if !e.ForEveryone() {
			break // an application's message or a private one is not the meeting's chat
		}
		ns = append(ns, notice{kind: chat.ChatMessage, who: e.UUID, name: e.Origin, text: e.Payload})
	case meetings.Disconnected:
		why := classifyDisconnect(e.Reason, t.present)
		switch why {
		case ended:
			if !t.started.IsZero() {
				ns = append(ns, t.ended(now, ""))
			}
			// Everyone is gone with the meeting: the next listener starts from an empty room
			// and announces whoever comes to the next one.
			t.roster.Restore(nil)
			t.present = 0
			t.dirty = true
			t.quietLeaves = true
		case removed:
			ns = append(ns, notice{kind: chat.MeetingChanged, text: fmt.Sprintf("A host removed %s from %s; `link` again to follow it.", t.botName(), t.meetingName())})
		}
		return t.stamp(ns, now), why
	case meetings.StreamLost:
		t.roster.Apply(ev) // abandons a sync in progress
	}
	return t.stamp(ns, now), stay
}

func (t *tracker) stamp(ns []notice, now time.Time) []notice {
	for i := range ns {
		ns[i].at = now
	}
	return ns
}

func (t *tracker) botName() string {
	if t.bot == "" {
		return "meetbot"
	}
	return t.bot
}

func (t *tracker) meetingName() string {
	if t.name != "" {
		return t.name
	}
	return t.room
}

// afterSync finishes a sync: the first one primes the roster (silently) and tells who presents;
// any finds a meeting running when people are present and none was (after a restart, or after a
// disconnect ended the previous one).
func (t *tracker) afterSync(now time.Time) {
	t.dirty = true
	t.quietLeaves = false
	t.primed = true
	people := t.persons()
	t.present = len(people)
	if t.startGuessed {
		for _, p := range people {
			if p.StartTime > 0 && time.Unix(p.StartTime, 0).Before(t.started) {
				t.started = time.Unix(p.StartTime, 0)
				t.startGuessed = false
			}
		}
	}
	if !t.started.IsZero() || len(people) == 0 {
		return
	}
	for _, p := range people {
		t.seen[p.UUID] = true
		if p.IsPresenting && !t.presenter.active {
			t.presenter = presenter{active: true, name: p.DisplayName, uuid: p.UUID}
			t.presenters = append(t.presenters, p.DisplayName)
		}
		if p.StartTime > 0 {
			if st := time.Unix(p.StartTime, 0); t.started.IsZero() || st.Before(t.started) {
				t.started = st
			}
		}
	}
	if t.started.IsZero() {
		t.started = now
	}
	t.peak = max(t.peak, len(people))
}

// onChange turns one roster change into notices; left reports a leave.
func (t *tracker) onChange(c meetings.Change, now time.Time) (ns []notice, left bool) {
	p := c.Participant
	if t.isBot(p) {
		return nil, false
	}
	if p.IsStreaming || c.Before.IsStreaming {
		return t.onStream(c, now), false
	}
	switch c.Kind {
	case meetings.Joined:
		if t.started.IsZero() {
			t.started = now
			if p.StartTime > 0 && time.Unix(p.StartTime, 0).Before(now) {
				// The platform's time, which a listener that takes over reads again: the
				// occurrence id stays the same.
				t.started = time.Unix(p.StartTime, 0)
			}
		}
		t.seen[p.UUID] = true
		t.peak = max(t.peak, t.present)
		ns = append(ns, notice{kind: chat.Joined, who: p.UUID, name: p.DisplayName, role: roleOf(p), api: strings.EqualFold(p.Protocol, "api")})
		if p.Waiting() {
			ns = append(ns, waitNotice(p))
		}
		ns = append(ns, t.hostWait()...)
		if p.IsPresenting {
			ns = append(ns, t.presentationOn(p.DisplayName, p.UUID)...)
		}
	case meetings.Left:
		name := p.DisplayName
		if name == "" {
			name = c.Before.DisplayName
		}
		if !t.quietLeaves {
			ns = append(ns, notice{kind: chat.Left, who: p.UUID, name: name, api: strings.EqualFold(p.Protocol, "api")})
		}
		return ns, true
	case meetings.Updated:
		if p.Waiting() && !c.Before.Waiting() {
			ns = append(ns, waitNotice(p))
		}
		if p.IsPresenting && !c.Before.IsPresenting {
			ns = append(ns, t.presentationOn(p.DisplayName, p.UUID)...)
		} else if !p.IsPresenting && c.Before.IsPresenting {
			ns = append(ns, t.presentationOff(p.DisplayName, p.UUID)...)
		}
	}
	return ns, false
}

// presentationOn reports a presentation once, whether presentation_start or the is_presenting
// flag tells first.
func (t *tracker) presentationOn(name, uuid string) []notice {
	if t.presenter.active && (t.presenter.name == name || uuid != "" && t.presenter.uuid == uuid) {
		if uuid != "" {
			t.presenter.uuid = uuid
		}
		return nil
	}
	t.presenter = presenter{active: true, name: name, uuid: uuid}
	if !slices.Contains(t.presenters, name) {
		t.presenters = append(t.presenters, name)
	}
	return []notice{{kind: chat.PresentationStarted, who: uuid, name: name}}
}

// presentationOff reports the end of a presentation once. An empty name and uuid (from
// presentation_stop) stops whoever presents.
func (t *tracker) presentationOff(name, uuid string) []notice {
	if !t.presenter.active {
		return nil
	}
	if name != "" || uuid != "" {
		if t.presenter.name != name && (uuid == "" || t.presenter.uuid != uuid) {
			return nil // someone else's flag; the current presentation goes on
		}
	}
	p := t.presenter
	t.presenter = presenter{}
	return []notice{{kind: chat.PresentationStopped, who: p.uuid, name: p.name}}
}

// endIfEmpty ends the meeting when the last person left.
func (t *tracker) endIfEmpty(now time.Time) []notice {
	if t.started.IsZero() || t.present > 0 {
		return nil
	}
	return []notice{t.ended(now, "")}
}

// ended returns the MeetingEnded notice with its summary and resets the meeting's statistics.
func (t *tracker) ended(now time.Time, why string) notice {
	st := t.State(now)
	st.Ended = true
	st.Present = nil
	st.People = nil
	st.Presenter = ""
	if t.startGuessed {
		st.Started = time.Time{} // unknown: the summary leaves the duration out
	}
	n := notice{kind: chat.MeetingEnded, text: summary(st, now, why), state: st}
	t.started, t.startGuessed = time.Time{}, false
	t.peak = 0
	t.seen = map[string]bool{}
	t.presenters = nil
	t.presenter = presenter{}
	t.hostNoticed = false
	return n
}

// waitNotice says that p waits in the waiting room to be admitted.
func waitNotice(p meetings.Participant) notice {
	return notice{kind: chat.Waiting, who: p.UUID, name: p.DisplayName, text: displayName(p.DisplayName) + " is waiting to be admitted"}
}

// hostWait says once per occurrence that people are in a meeting that has no host yet: "3
// people are waiting for a host in Weekly sync".
func (t *tracker) hostWait() []notice {
	if !t.waitingForHost || t.hostNoticed || !t.primed {
		return nil
	}
	n := len(t.persons())
	if n == 0 {
		return nil
	}
	t.hostNoticed = true
	text := fmt.Sprintf("%d people are waiting for a host in %s", n, chat.OneLine(t.meetingName()))
	if n == 1 {
		text = "1 person is waiting for a host in " + chat.OneLine(t.meetingName())
	}
	return []notice{{kind: chat.Waiting, text: text}}
}

// onStream reports what a recording or live stream does: it connected, it never did, or it
// dropped. Its joining and leaving are not a person's, so they are never announced as such.
func (t *tracker) onStream(c meetings.Change, now time.Time) []notice {
	p := c.Participant
	if c.Kind == meetings.Left {
		delete(t.streamSince, p.UUID)
	} else if p.ServiceType == "conference" {
		if _, ok := t.streamSince[p.UUID]; !ok {
			t.streamSince[p.UUID] = now
		}
	}
	what, end := "Live stream", "the stream"
	if p.DisplayName == "Recording" || c.Before.DisplayName == "Recording" {
		what, end = "Recording", "the recorder"
	}
	connected := func(q meetings.Participant) bool { return q.ServiceType == "conference" }
	switch c.Kind {
	case meetings.Joined:
		if connected(p) {
			return []notice{{kind: chat.MeetingChanged, who: p.UUID, text: "● " + what + ": " + end + " is connected"}}
		}
	case meetings.Updated:
		if connected(p) && !connected(c.Before) {
			return []notice{{kind: chat.MeetingChanged, who: p.UUID, text: "● " + what + ": " + end + " is connected"}}
		}
	case meetings.Left:
		if t.quietLeaves {
			return nil
		}
		before := c.Before
		if before.UUID == "" {
			before = p
		}
		text := what + " stopped: " + end + " disconnected"
		if !connected(before) {
			text = what + " did not start: " + end + " did not connect"
		}
		return []notice{{kind: chat.MeetingChanged, who: p.UUID, text: text, streamLeft: true}}
	}
	return nil
}

// Occurrence is the id of the meeting's current run, "" before anyone was seen: from the
// meeting's start, which a restarted or taking-over listener learns again from the participants'
// start times, so it is the same for this run in every replica.
func (t *tracker) Occurrence() string {
	if t.started.IsZero() {
		return ""
	}
	return t.room + "@" + strconv.FormatInt(t.started.Unix(), 10)
}

// State returns the meeting's state at now.
func (t *tracker) State(now time.Time) chat.MeetingState {
	people := t.persons()
	st := chat.MeetingState{
		Name: t.name, Room: t.room,
		Locked: t.locked, GuestsMuted: t.guestsMuted,
		Started: t.started, Peak: t.peak, Total: len(t.seen),
		Presenters: append([]string(nil), t.presenters...),
	}
	for _, p := range people {
		st.Present = append(st.Present, p.DisplayName)
	}
	if t.presenter.active {
		st.Presenter = t.presenter.name
	}
	st.Occurrence = t.Occurrence()
	st.WaitingForHost = t.waitingForHost
	st.JoinURL = t.joinURL
	for _, p := range t.People() {
		st.People = append(st.People, chat.Person{
			UUID: p.UUID, Name: p.DisplayName, Role: roleOf(p), Protocol: strings.ToLower(p.Protocol),
			Waiting: p.Waiting(), Streaming: p.IsStreaming,
		})
		if !p.IsStreaming || p.ServiceType != "conference" {
			continue
		}
		since, ok := t.streamSince[p.UUID]
		if !ok && p.StartTime > 0 {
			since = time.Unix(p.StartTime, 0) // restored: when it joined
		}
		if !ok && since.IsZero() {
			since = now
		}
		if isRecorder(p) {
			if st.RecordingSince.IsZero() || since.Before(st.RecordingSince) {
				st.RecordingSince = since
			}
		} else if st.LiveSince.IsZero() || since.Before(st.LiveSince) {
			st.LiveSince = since
		}
	}
	return st
}

// isRecorder tells the operator's recorder from a live stream, as onStream words them.
func isRecorder(p meetings.Participant) bool { return p.DisplayName == "Recording" }

// summary writes the line that closes a meeting: "The meeting ended after 42 min: 12 at most, 20
// people in all; Carol and Dan presented".
func summary(st chat.MeetingState, now time.Time, why string) string {
	var b strings.Builder
	b.WriteString("The meeting ended")
	if !st.Started.IsZero() {
		b.WriteString(" after " + duration(now.Sub(st.Started)))
	}
	if why != "" {
		b.WriteString(" (" + why + ")")
	}
	fmt.Fprintf(&b, ": %d at most, %d %s in all", st.Peak, st.Total, plural(st.Total, "person", "people"))
	if len(st.Presenters) > 0 {
		b.WriteString("; " + listNames(st.Presenters) + " presented")
	}
	return b.String()
}

func duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	h, m := int(d.Hours()), int(d.Minutes())%60
	if m == 0 {
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func roleOf(p meetings.Participant) string {
	switch {
	case p.Waiting():
		return "waiting"
	case p.IsHost():
		return "host"
	}
	return "guest"
}
