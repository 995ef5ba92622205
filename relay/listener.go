package relay

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/joinurl"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
)

// maxSnapshots bounds the roster snapshots a listener keeps while a channel is slow to post what
// led to them. Past it, snapshots in the middle are thinned out: the roster saved later may then
// be an older one, which widens what a takeover can repeat, never what it can lose.
const maxSnapshots = 16

// A Listener follows one linked meeting for every channel linked to it. It is a thin lifecycle:
// it owns the meeting's session and event stream and the outboxes of its channels, feeds each
// event to the meeting's tracker (which decides what to post), and saves the roster. Listeners
// are made and stopped by a Supervisor.
type Listener struct {
	sup     *Supervisor
	meeting store.MeetingRef
	key     string
	name    string      // the conference name, for MeetingState
	pin     chat.Secret // the PIN sess joined with: commands of links with this PIN may use sess
	sess    *meetings.Session
	lease   *lease // nil when the Supervisor keeps no leases (tests of a listener alone)
	log     *slog.Logger

	ctx    context.Context // the event stream's; cancelled by stop
	cancel context.CancelFunc
	obCtx  context.Context // the outboxes'; cancelled when they must stop at once
	obStop context.CancelFunc
	done   chan struct{} // closed when the event loop has returned
	saveMu sync.Mutex    // held while the Supervisor's saver saves this listener's roster

	mu       sync.Mutex // guards what follows; held while one event is handled
	tr       *tracker
	outboxes map[chat.ChannelRef]*outbox
	seq      int64
	connects int
	exit     exit // set by a disconnect that ends the listener
	// Roster saving: snapshots wait until every outbox has posted up to their sequence number.
	snaps []snapshot

	saves atomic.Int64 // tests: roster saving rounds done

	att    *attendanceLog // the current run's; only the event loop uses it (attendance.go)
	slides *slides        // made on the first presentation event; only the event loop uses it (snapshots.go)
}

type snapshot struct {
	seq     int64
	entries []store.RosterEntry
}

// newListener makes a listener of meeting over sess. With restore, the saved roster becomes the
// baseline, so the first sync reports what changed while no one listened; without it (a
// brand-new link) the first sync is silent.
func (s *Supervisor) newListener(meeting store.MeetingRef, name string, pin chat.Secret, sess *meetings.Session, ls *lease, restore []store.RosterEntry) *Listener {
	l := &Listener{
		sup: s, meeting: meeting, key: meeting.Key(), name: name, pin: pin, sess: sess, lease: ls,
		log:      s.logger().With("meeting", meeting.Key()),
		done:     make(chan struct{}),
		outboxes: map[chat.ChannelRef]*outbox{},
	}
	l.tr = newTracker(name, meeting.Room, s.BotName, l.isBot, restore, time.Now())
	if u, ok := s.JoinURL.Expand(joinurl.FromRoom(meeting.Room, name)); ok {
		l.tr.joinURL = u
	}
	return l
}

// start runs the event loop and the outboxes of channels, and registers l with the roster saver.
func (l *Listener) start(base context.Context, channels []chat.ChannelRef) {
	l.ctx, l.cancel = context.WithCancel(base)
	l.obCtx, l.obStop = context.WithCancel(base)
	for _, ch := range channels {
		l.addChannel(ch)
	}
	l.sup.saver.add(l)
	go func() {
		defer close(l.done)
		err := l.sess.Events(l.ctx, l.handle)
		l.mu.Lock()
		why := l.exit
		l.mu.Unlock()
		if why != stay {
			go l.sup.exited(l, why)
			return
		}
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
	o.fence, o.margin = l.lease, s.fenceMargin()
	o.maxText = s.messageLimit(ch.Platform)
	o.bots = l.botsAmong
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
		l.sup.saver.remove(l)
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
	l.sup.saver.remove(l)
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
	if !l.tr.Primed() {
		return nil, false
	}
	return l.tr.People(), true
}

// isBot is the tracker's test of the bot's own participants (Supervisor.isBot).
func (l *Listener) isBot(p meetings.Participant) bool { return l.sup.isBot(l.key, l.sess, p) }

// botsAmong reports which of uuids are the bot's own participants, asking the store afresh.
func (l *Listener) botsAmong(ctx context.Context, uuids []string) map[string]bool {
	return l.sup.botsAmong(ctx, l.key, l.sess, uuids)
}

// handle feeds one event to the tracker and hands the notices to every channel. The stream calls
// it sequentially.
func (l *Listener) handle(ev meetings.Event) {
	if h := l.sup.handled; h != nil {
		defer h(l.key, ev)
	}
	switch ev.(type) {
	case meetings.StreamConnected:
		l.mu.Lock()
		l.connects++
		again := l.connects > 1
		l.mu.Unlock()
		if again {
			l.log.Info("event stream reconnected")
			if o := l.sup.Observer; o != nil {
				o.StreamReconnected(l.key)
			}
		}
		return
	case meetings.StreamLost:
		l.log.Debug("event stream lost; the client reconnects", "err", ev.(meetings.StreamLost).Err)
	}
	now := time.Now()
	defer l.recordAttendance(ev, now) // after the lock below is released: it writes to the store
	defer l.snapshot(ev, now)         // likewise: it fetches the frame
	l.mu.Lock()
	ns, why := l.tr.Apply(ev, now)
	if why != stay {
		// Come back later (an end) or never (a removal), not at once: stop the stream before
		// the session starts over with new_session.
		l.exit = why
		l.log.Info("the bot was disconnected from the meeting", "reason", ev.(meetings.Disconnected).Reason, "next", why.String())
		l.cancel()
	}
	if hasStreamLeft(ns) {
		// Whether a recording was stopped on purpose is in the store: ask it without the lock.
		// Only this goroutine handles events, so nothing overtakes these notices meanwhile.
		l.mu.Unlock()
		ns = l.resolveStreamsLeft(ns)
		l.mu.Lock()
	}
	defer l.mu.Unlock()
	if len(ns) == 0 {
		return
	}
	for i := range ns {
		l.seq++
		ns[i].seq = l.seq
	}
	for _, o := range l.outboxes {
		o.add(ns...)
	}
}

func hasStreamLeft(ns []notice) bool {
	for _, n := range ns {
		if n.streamLeft {
			return true
		}
	}
	return false
}

// resolveStreamsLeft keeps the notice of a recording or live stream that left only when the
// store still remembers it, that is when no one stopped it (record stop forgets it first); such a
// stream is then forgotten, so status no longer shows it and it can be started again. One the
// bot did not start (dialled from elsewhere) is not the bot's to report. When the store cannot
// be read the notice is kept: a stop said twice is better than a dropped recorder unsaid.
func (l *Listener) resolveStreamsLeft(ns []notice) []notice {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(l.ctx), 5*time.Second)
	defer cancel()
	streams, err := store.LoadStreams(ctx, l.sup.Store, l.key)
	if err != nil {
		l.log.Warn("cannot tell whether a recording was stopped on purpose; saying it stopped", "err", err)
		return ns
	}
	out := ns[:0:0]
	forgot := false
	for _, n := range ns {
		if n.streamLeft {
			kind := streams.Kind(n.who)
			if kind == "" {
				continue
			}
			delete(streams, kind)
			forgot = true
		}
		out = append(out, n)
	}
	if forgot {
		if err := store.SaveStreams(ctx, l.sup.Store, l.key, streams); err != nil {
			l.log.Warn("a recording that stopped is still remembered as running", "err", err)
		}
	}
	return out
}

// currentState returns the meeting's state now.
func (l *Listener) currentState() chat.MeetingState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tr.State(time.Now())
}

// saveRoster saves the newest roster snapshot whose notices every channel has posted, so a
// listener that takes over after a crash reports what this one had not posted yet, and repeats
// at most what it posted since its last save. A channel that refused a message for good or is
// gone does not hold the saved roster back: its outbox acknowledges what it dropped.
func (l *Listener) saveRoster(ctx context.Context) {
	defer l.saves.Add(1)
	l.mu.Lock()
	if entries, changed := l.tr.Snapshot(); changed {
		l.snaps = append(l.snaps, snapshot{seq: l.seq, entries: entries})
		if len(l.snaps) > maxSnapshots {
			// Keep the oldest (the next to become savable) and the newest; thin the middle.
			mid := len(l.snaps) / 2
			l.snaps = append(l.snaps[:mid], l.snaps[mid+1:]...)
		}
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
	l.snaps = append(l.snaps[:0], l.snaps[pick+1:]...)
	l.mu.Unlock()
	if err := l.sup.Store.SaveRoster(ctx, l.key, sn.entries); err != nil {
		if ctx.Err() == nil {
			l.log.Warn("save roster; will retry", "err", err)
		}
		l.mu.Lock()
		if len(l.snaps) < maxSnapshots {
			l.snaps = append([]snapshot{sn}, l.snaps...)
		}
		l.mu.Unlock()
		return
	}
}
