package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
)

// A Listener follows one linked meeting for every channel linked to it: it owns the meeting's
// session and event stream, keeps the roster that command resolution uses, and turns events into
// notices for each channel's outbox. Listeners are made and stopped by a Supervisor.
type Listener struct {
	sup     *Supervisor
	meeting store.MeetingRef
	key     string
	name    string      // the conference name, for MeetingState
	pin     chat.Secret // the PIN sess joined with: commands of links with this PIN may use sess
	sess    *meetings.Session
	log     *slog.Logger

	ctx    context.Context // the event stream's; cancelled by stop
	cancel context.CancelFunc
	obCtx  context.Context // the outboxes'; cancelled when they must stop at once
	obStop context.CancelFunc
	done   chan struct{} // closed when the event loop has returned
	quit   chan struct{} // closed by stop to end the saver
	saved  chan struct{} // closed when the saver has returned

	renewed time.Time // last successful lease claim or renewal; guarded by sup.mu

	mu       sync.Mutex // guards what follows; held while one event is handled
	roster   *meetings.Roster
	primed   bool // the roster has a baseline (a first sync, or a restored roster)
	outboxes map[chat.ChannelRef]*outbox
	seq      int64
	connects int
	// quietLeaves is set by a disconnect that ended the meeting: the leaves of the next sync are
	// covered by "the meeting ended".
	quietLeaves bool
	presenter   presenter
	locked      bool
	guestsMuted bool
	started     time.Time
	// startGuessed: started is when a restored listener began, not when the meeting did.
	startGuessed bool
	peak         int
	seen         map[string]bool
	presenters   []string
	// Roster saving: snapshots wait until every outbox has posted up to their sequence number.
	dirty bool
	snaps []snapshot
}

type presenter struct {
	active bool
	name   string
	uuid   string // "" when only presentation_start named them
}

type snapshot struct {
	seq     int64
	entries []store.RosterEntry
}

// newListener makes a listener of meeting over sess. With restore, the saved roster becomes the
// baseline, so the first sync reports what changed while no one listened; without it (a
// brand-new link) the first sync is silent.
func (s *Supervisor) newListener(meeting store.MeetingRef, name string, pin chat.Secret, sess *meetings.Session, restore []store.RosterEntry) *Listener {
	l := &Listener{
		sup: s, meeting: meeting, key: meeting.Key(), name: name, pin: pin, sess: sess,
		log:      s.logger().With("meeting", meeting.Key()),
		done:     make(chan struct{}),
		quit:     make(chan struct{}),
		saved:    make(chan struct{}),
		roster:   meetings.NewRoster(),
		outboxes: map[chat.ChannelRef]*outbox{},
		seen:     map[string]bool{},
		renewed:  time.Now(),
	}
	if restore != nil {
		ps := make([]meetings.Participant, 0, len(restore))
		for _, e := range restore {
			ps = append(ps, meetings.Participant{UUID: e.UUID, DisplayName: e.Name, Role: e.Role, IsPresenting: e.Presenting, ServiceType: "conference"})
			l.seen[e.UUID] = true
			if e.Presenting && !l.presenter.active {
				l.presenter = presenter{active: true, name: e.Name, uuid: e.UUID}
				l.presenters = append(l.presenters, e.Name)
			}
		}
		l.roster.Restore(ps)
		l.primed = true
		l.peak = len(ps)
		if len(ps) > 0 {
			// A meeting was running; when it began is known after the first sync (start times),
			// unless everyone left meanwhile.
			l.started, l.startGuessed = time.Now(), true
		}
	}
	return l
}

// start runs the event loop, the roster saver and the outboxes of channels.
func (l *Listener) start(base context.Context, channels []chat.ChannelRef) {
	l.ctx, l.cancel = context.WithCancel(base)
	l.obCtx, l.obStop = context.WithCancel(base)
	for _, ch := range channels {
		l.addChannel(ch)
	}
	go l.saveLoop()
	go func() {
		defer close(l.done)
		err := l.sess.Events(l.ctx, l.handle)
		if l.ctx.Err() != nil {
			return // stopped on purpose
		}
		if err == nil {
			err = errors.New("event stream ended")
		}
		l.log.Warn("event stream gave up; the listener will be restarted", "err", err)
		go l.sup.retire(l, err)
	}()
}

// addChannel starts posting to ch (no-op when it already does).
func (l *Listener) addChannel(ch chat.ChannelRef) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.outboxes[ch]; ok {
		return
	}
	s := l.sup
	o := newOutbox(ch, s.Poster, s.Store, s.Pace, l.log.With("channel", ch.String()), s.Observer, l.seq)
	o.state = l.currentState
	l.outboxes[ch] = o
	go o.run(l.obCtx)
}

// removeChannel stops posting to ch; what was pending for it is dropped (the channel unlinked).
func (l *Listener) removeChannel(ch chat.ChannelRef) {
	l.mu.Lock()
	o, ok := l.outboxes[ch]
	delete(l.outboxes, ch)
	l.mu.Unlock()
	if ok {
		o.mu.Lock()
		o.gone = true
		o.pending = nil
		o.mu.Unlock()
		o.close()
	}
}

// channels returns the channels l posts to.
func (l *Listener) channels() map[chat.ChannelRef]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[chat.ChannelRef]bool, len(l.outboxes))
	for ch := range l.outboxes {
		m[ch] = true
	}
	return m
}

// stopMode says how a listener stops.
type stopMode int

const (
	// drain: stop reading events, post what is pending (bounded by DrainTimeout), save the roster.
	drain stopMode = iota
	// abandon: stop at once, post and save nothing (the lease was lost: another replica reports
	// what this one had not posted yet).
	abandon
)

// stop stops l and waits for it. It does not end the session or touch the lease.
func (l *Listener) stop(mode stopMode) {
	l.cancel()
	<-l.done
	if mode == abandon {
		l.obStop()
		close(l.quit)
		<-l.saved
		return
	}
	l.mu.Lock()
	obs := make([]*outbox, 0, len(l.outboxes))
	for _, o := range l.outboxes {
		obs = append(obs, o)
	}
	l.mu.Unlock()
	for _, o := range obs {
		o.close()
	}
	timer := time.AfterFunc(l.sup.drainTimeout(), l.obStop)
	// A Poster that ignores its context must not hang the shutdown: give up a second after the
	// outboxes were told to stop.
	hard := time.After(l.sup.drainTimeout() + time.Second)
	for _, o := range obs {
		select {
		case <-o.done:
		case <-hard:
			l.log.Error("a channel's Poster ignores cancellation; not waiting for it", "channel", o.ch.String())
		}
	}
	timer.Stop()
	close(l.quit)
	<-l.saved
	// Save what the channels posted; what they could not post stays out of the saved roster, so
	// the next listener reports it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	l.saveRoster(ctx)
	cancel()
	l.obStop()
}

// participants returns the live roster without the bot's own sessions, and whether the roster
// is known yet.
func (l *Listener) participants() ([]meetings.Participant, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.primed {
		return nil, false
	}
	return l.people(), true
}

// people returns who is in the meeting, bots left out, in order of joining. Call with l.mu held.
func (l *Listener) people() []meetings.Participant {
	all := l.roster.Participants()
	out := all[:0:0]
	for _, p := range all {
		if !l.isBot(p) {
			out = append(out, p)
		}
	}
	return out
}

// isBot reports whether p is one of the bot's own sessions: this listener's, or another
// replica's (which joins with the bot's name through the API).
func (l *Listener) isBot(p meetings.Participant) bool {
	if p.UUID != "" && p.UUID == l.sess.Info().ParticipantUUID {
		return true
	}
	return l.sup.BotName != "" && p.DisplayName == l.sup.BotName && strings.EqualFold(p.Protocol, "api")
}

// handle turns one event into notices for every channel. The stream calls it sequentially.
func (l *Listener) handle(ev meetings.Event) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var ns []notice
	switch e := ev.(type) {
	case meetings.SyncBegin, meetings.SyncEnd, meetings.ParticipantCreated, meetings.ParticipantUpdated, meetings.ParticipantDeleted:
		changes := l.roster.Apply(ev)
		left := false
		for _, c := range changes {
			n, gone := l.onChange(c)
			ns = append(ns, n...)
			left = left || gone
		}
		if len(changes) > 0 {
			l.dirty = true
		}
		if _, ok := ev.(meetings.SyncEnd); ok {
			l.afterSync()
		}
		if left {
			ns = append(ns, l.endIfEmpty(now)...)
		}
	case meetings.PresentationStarted:
		ns = append(ns, l.presentationOn(e.PresenterName, "")...)
	case meetings.PresentationStopped:
		ns = append(ns, l.presentationOff("", "")...)
	case meetings.ServiceUpdated:
		// Lock and mute changes are announced by the command replies; keep them for the status.
		l.locked, l.guestsMuted = e.Locked, e.GuestsMuted
	case meetings.MessageReceived:
		if e.UUID != "" && e.UUID == l.sess.Info().ParticipantUUID || e.Origin == l.sup.BotName {
			break // the bot's own `say`
		}
		ns = append(ns, notice{kind: chat.ChatMessage, who: e.UUID, name: e.Origin, text: e.Payload})
	case meetings.Disconnected:
		if !l.started.IsZero() {
			ns = append(ns, l.ended(now, "the meeting was disconnected"))
		}
		l.quietLeaves = true
	case meetings.StreamConnected:
		l.connects++
		if l.connects > 1 {
			l.log.Info("event stream reconnected")
			if o := l.sup.Observer; o != nil {
				o.StreamReconnected(l.key)
			}
		}
	case meetings.StreamLost:
		l.roster.Apply(ev) // abandons a sync in progress
		l.log.Debug("event stream lost; the client reconnects", "err", e.Err)
	}
	if len(ns) == 0 {
		return
	}
	for i := range ns {
		l.seq++
		ns[i].seq, ns[i].at = l.seq, now
	}
	for _, o := range l.outboxes {
		o.add(ns...)
	}
}

// afterSync finishes a sync: the first one primes the roster (silently) and tells who presents;
// any finds a meeting running when people are present and none was (after a restart, or after a
// disconnect ended the previous one).
func (l *Listener) afterSync() {
	l.dirty = true
	l.quietLeaves = false
	l.primed = true
	people := l.people()
	if l.startGuessed {
		for _, p := range people {
			if p.StartTime > 0 && time.Unix(p.StartTime, 0).Before(l.started) {
				l.started = time.Unix(p.StartTime, 0)
				l.startGuessed = false
			}
		}
	}
	if !l.started.IsZero() || len(people) == 0 {
		return
	}
	for _, p := range people {
		l.seen[p.UUID] = true
		if p.IsPresenting && !l.presenter.active {
			l.presenter = presenter{active: true, name: p.DisplayName, uuid: p.UUID}
			l.presenters = append(l.presenters, p.DisplayName)
		}
		if p.StartTime > 0 {
			if t := time.Unix(p.StartTime, 0); l.started.IsZero() || t.Before(l.started) {
				l.started = t
			}
		}
	}
	if l.started.IsZero() {
		l.started = time.Now()
	}
	l.peak = max(l.peak, len(people))
}

// onChange turns one roster change into notices; left reports a leave.
func (l *Listener) onChange(c meetings.Change) (ns []notice, left bool) {
	p := c.Participant
	if l.isBot(p) {
		return nil, false
	}
	switch c.Kind {
	case meetings.Joined:
		if l.started.IsZero() {
			l.started = time.Now()
		}
		l.seen[p.UUID] = true
		if n := len(l.people()); n > l.peak {
			l.peak = n
		}
		ns = append(ns, notice{kind: chat.Joined, who: p.UUID, name: p.DisplayName, role: roleOf(p)})
		if p.IsPresenting {
			ns = append(ns, l.presentationOn(p.DisplayName, p.UUID)...)
		}
	case meetings.Left:
		name := p.DisplayName
		if name == "" {
			name = c.Before.DisplayName
		}
		if !l.quietLeaves {
			ns = append(ns, notice{kind: chat.Left, who: p.UUID, name: name})
		}
		return ns, true
	case meetings.Updated:
		if p.IsPresenting && !c.Before.IsPresenting {
			ns = append(ns, l.presentationOn(p.DisplayName, p.UUID)...)
		} else if !p.IsPresenting && c.Before.IsPresenting {
			ns = append(ns, l.presentationOff(p.DisplayName, p.UUID)...)
		}
	}
	return ns, false
}

// presentationOn reports a presentation once, whether presentation_start or the is_presenting
// flag tells first.
func (l *Listener) presentationOn(name, uuid string) []notice {
	if l.presenter.active && (l.presenter.name == name || uuid != "" && l.presenter.uuid == uuid) {
		if uuid != "" {
			l.presenter.uuid = uuid
		}
		return nil
	}
	l.presenter = presenter{active: true, name: name, uuid: uuid}
	if len(l.presenters) == 0 || l.presenters[len(l.presenters)-1] != name {
		if !contains(l.presenters, name) {
			l.presenters = append(l.presenters, name)
		}
	}
	return []notice{{kind: chat.PresentationStarted, who: uuid, name: name}}
}

// presentationOff reports the end of a presentation once. An empty name and uuid (from
// presentation_stop) stops whoever presents.
func (l *Listener) presentationOff(name, uuid string) []notice {
	if !l.presenter.active {
		return nil
	}
	if name != "" || uuid != "" {
		if l.presenter.name != name && (uuid == "" || l.presenter.uuid != uuid) {
			return nil // someone else's flag; the current presentation goes on
		}
	}
	p := l.presenter
	l.presenter = presenter{}
	return []notice{{kind: chat.PresentationStopped, who: p.uuid, name: p.name}}
}

// endIfEmpty ends the meeting when the last person left.
func (l *Listener) endIfEmpty(now time.Time) []notice {
	if l.started.IsZero() || len(l.people()) > 0 {
		return nil
	}
	return []notice{l.ended(now, "")}
}

// ended returns the MeetingEnded notice with its summary and resets the meeting's statistics.
func (l *Listener) ended(now time.Time, why string) notice {
	st := l.state(now)
	st.Ended = true
	st.Present = nil
	st.Presenter = ""
	if l.startGuessed {
		st.Started = time.Time{} // unknown: the summary leaves the duration out
	}
	n := notice{kind: chat.MeetingEnded, text: summary(st, now, why), state: st}
	l.started, l.startGuessed = time.Time{}, false
	l.peak = 0
	l.seen = map[string]bool{}
	l.presenters = nil
	l.presenter = presenter{}
	return n
}

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

// currentState returns the meeting's state now.
func (l *Listener) currentState() chat.MeetingState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state(time.Now())
}

// state returns the meeting's state now. Call with l.mu held.
func (l *Listener) state(now time.Time) chat.MeetingState {
	people := l.people()
	st := chat.MeetingState{
		Name: l.name, Room: l.meeting.Room,
		Locked: l.locked, GuestsMuted: l.guestsMuted,
		Started: l.started, Peak: l.peak, Total: len(l.seen),
		Presenters: append([]string(nil), l.presenters...),
	}
	for _, p := range people {
		st.Present = append(st.Present, p.DisplayName)
	}
	if l.presenter.active {
		st.Presenter = l.presenter.name
	}
	return st
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

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// saveLoop saves the roster every SaveInterval once the channels have posted what led to it,
// until stop closes quit or the outboxes' context ends.
func (l *Listener) saveLoop() {
	defer close(l.saved)
	t := time.NewTicker(l.sup.saveInterval())
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.saveRoster(l.obCtx)
		case <-l.quit:
			return
		case <-l.obCtx.Done():
			return
		}
	}
}

// saveRoster saves the newest roster snapshot whose notices every channel has posted, so a
// listener that takes over after a crash reports what this one had not posted yet, and repeats
// at most what it posted since its last save.
func (l *Listener) saveRoster(ctx context.Context) {
	l.mu.Lock()
	if l.dirty && l.primed {
		var entries []store.RosterEntry
		for _, p := range l.people() {
			entries = append(entries, store.RosterEntry{UUID: p.UUID, Name: p.DisplayName, Role: p.Role, Presenting: p.IsPresenting})
		}
		if entries == nil {
			entries = []store.RosterEntry{}
		}
		l.snaps = append(l.snaps, snapshot{seq: l.seq, entries: entries})
		l.dirty = false
	}
	acked := int64(math.MaxInt64)
	for _, o := range l.outboxes {
		acked = min(acked, o.acked.Load())
	}
	pick := -1
	for i, sn := range l.snaps {
		if sn.seq <= acked {
			pick = i
		}
	}
	if pick < 0 {
		l.mu.Unlock()
		return
	}
	sn := l.snaps[pick]
	l.snaps = l.snaps[pick+1:]
	l.mu.Unlock()
	if err := l.sup.Store.SaveRoster(ctx, l.key, sn.entries); err != nil {
		l.log.Warn("save roster; will retry", "err", err)
		l.mu.Lock()
		l.snaps = append([]snapshot{sn}, l.snaps...)
		l.mu.Unlock()
		return
	}
}
