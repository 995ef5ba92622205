package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/joinurl"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
)

// Defaults of the Supervisor's timing.
const (
	// DefaultLeaseTTL is how long a meeting's lease outlives a replica that stopped renewing it.
	DefaultLeaseTTL = 10 * time.Second
	// DefaultResync is how often links are reloaded and free leases claimed.
	DefaultResync = 3 * time.Second
	// DefaultIdleSession is how long a pooled command session is kept unused.
	DefaultIdleSession = 5 * time.Minute
	// DefaultSaveInterval is how often a changed roster is saved.
	DefaultSaveInterval = 250 * time.Millisecond
	// DefaultDrainTimeout bounds how long a stopping listener posts what is pending.
	DefaultDrainTimeout = 5 * time.Second
	// DefaultRejoinAfterEnd is how long the relay stays out of a meeting that was just ended.
	DefaultRejoinAfterEnd = time.Minute
	// DefaultOpenTimeout bounds opening a session (new_session) and closing one (end_session).
	DefaultOpenTimeout = 30 * time.Second
)

// DefaultMessageLimits are the longest texts, in bytes, one notification may carry per chat
// platform; longer texts are split at line ends. Slack: 3,000, what one section block holds (a
// message holds 40,000). Matrix: 16,000, so that the event with its HTML body stays well under
// the homeserver's 64 KiB even when every character needs escaping in one of them; a refusal
// (chat.ErrMessageRefused) halves what is left anyway.
var DefaultMessageLimits = map[string]int{"slack": 3000, "matrix": 16000}

// ErrStopped is returned by Follow, Session and Roster after the Supervisor's Run has returned.
var ErrStopped = errors.New("relay stopped")

// leasePrefix namespaces the relay's leases among others in the store.
const leasePrefix = "relay:"

// Supervisor keeps one Listener per linked meeting whose lease this replica holds, in step with
// the stored links, and serves the command core's sessions and rosters. Set the fields, then call
// Run; Follow, Unfollow, Session and Roster may be called before, during and (failing with
// ErrStopped) after Run, from any goroutine.
type Supervisor struct {
	// Store holds the links, settings, leases and saved rosters.
	Store store.Store
	// Client opens sessions on the platform.
	Client *meetings.Client
	// Poster posts notifications to channels (a chat.PosterMux of the adapters).
	Poster chat.Poster
	// ReplicaID names this process among replicas: the lease owner. It must be unique per
	// process, e.g. host name plus a random suffix.
	ReplicaID string
	// BotName is the display name the bot joins meetings with; its sessions and chat messages
	// are left out of notifications and rosters.
	BotName string
	// Logger receives lifecycle lines (Info), retried failures (Warn); nil discards.
	Logger *slog.Logger
	// Observer, if set, receives metrics hooks.
	Observer Observer

	// Platforms, when set, names the chat platforms this replica has adapters for ("slack",
	// "matrix", "console"). A meeting linked from a channel on any other platform is left to a
	// replica that can post there. Nil means every platform.
	Platforms []string

	LeaseTTL     time.Duration // how long a lease outlives its holder; default 10 s, renewed every third
	Resync       time.Duration // how often links are reloaded and free leases claimed; default 3 s, at most LeaseTTL/2
	Pace         time.Duration // at most one post per channel per Pace; default 1 s
	IdleSession  time.Duration // pooled command sessions close after this long unused; default 5 min
	SaveInterval time.Duration // how often a changed roster is saved; default 250 ms
	// SnapshotInterval is the least time between two slide snapshots of one meeting
	// (SNAPSHOT_INTERVAL); default DefaultSnapshotInterval.
	SnapshotInterval time.Duration
	DrainTimeout     time.Duration // how long shutdown waits for pending notices; default 5 s
	// RejoinAfterEnd is how long the relay stays out of a meeting that was ended (a host ended
	// it, or everyone was disconnected with the bot) before it follows the room again; default
	// 1 min. The lease is kept meanwhile, so no other replica comes back sooner.
	RejoinAfterEnd time.Duration
	// OpenTimeout bounds each new_session and end_session the Supervisor makes; default 30 s.
	OpenTimeout time.Duration
	// MessageLimits overrides DefaultMessageLimits per platform (bytes of text; 0 = no limit).
	MessageLimits map[string]int
	// JoinURL is MEET_JOIN_URL: expanded per meeting into MeetingState.JoinURL (the Join
	// button, Slack's call card). Zero means none.
	JoinURL joinurl.Template

	once   sync.Once
	base   context.Context // parent of every listener; cancelled when Run returns
	cancel context.CancelFunc
	// opens is the parent of every session being opened; shutdown cancels it first.
	opens     context.Context
	stopOpens context.CancelFunc
	// closes is the parent of every end_session; shutdown cancels it after 5 s.
	closes     context.Context
	stopCloses context.CancelFunc
	leases     *leases
	bots       *bots
	tasks      sync.WaitGroup // opens and closes in flight

	startMu sync.Mutex // serialises starting and stopping listeners
	saver   saver      // saves the rosters of all listeners, one round per SaveInterval
	mu      sync.Mutex // guards what follows
	lis     map[string]*Listener
	backoff map[string]retry // meetings whose listener failed, by key
	orphans map[string]int   // meetings seen without a lease holder, by key: rounds in a row
	// busy holds the meetings whose session is being opened or whose listener is stopping, so
	// no resync starts a second one meanwhile.
	busy map[string]chan struct{} // closed when the meeting is no longer busy
	// rest holds the meetings the relay stays out of for now, lease kept: until a time (the
	// meeting ended), or until their links are paused in the store (a host removed the bot).
	rest     map[string]resting
	recorded map[*meetings.Session]string // the participant uuid recorded for each session
	// unreadable holds the channels whose link could not be unsealed at the last resync, so
	// each is warned about once.
	unreadable map[chat.ChannelRef]bool
	stopped    bool
	pool       *pool

	abandon atomic.Bool  // tests: Run returns as if the process died (no drain, no release, no end_session)
	rounds  atomic.Int64 // tests: resyncs done
	// handled, when set (tests), sees every event once its listener has handled it.
	handled func(meeting string, ev meetings.Event)
}

type retry struct {
	next  time.Time
	delay time.Duration
}

type resting struct {
	until  time.Time // zero: until the links are paused
	reason string    // why the links are paused
}

func (s *Supervisor) init() {
	s.once.Do(func() {
		s.base, s.cancel = context.WithCancel(context.Background())
		s.opens, s.stopOpens = context.WithCancel(s.base)
		s.closes, s.stopCloses = context.WithCancel(context.Background())
		s.lis = map[string]*Listener{}
		s.backoff = map[string]retry{}
		s.orphans = map[string]int{}
		s.busy = map[string]chan struct{}{}
		s.rest = map[string]resting{}
		s.recorded = map[*meetings.Session]string{}
		s.pool = &pool{sup: s, entries: map[string]*pooled{}}
		s.leases = newLeases(s.Store, s.ReplicaID, s.leaseTTL(), s.logger())
		s.bots = newBots(s.Store)
	})
}

func (s *Supervisor) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Supervisor) leaseTTL() time.Duration { return orDefault(s.LeaseTTL, DefaultLeaseTTL) }

// resync is at most half the lease TTL, so heartbeats never lapse between two writes.
func (s *Supervisor) resync() time.Duration {
	return min(orDefault(s.Resync, DefaultResync), s.leaseTTL()/2)
}
func (s *Supervisor) idleSession() time.Duration {
	return orDefault(s.IdleSession, DefaultIdleSession)
}
func (s *Supervisor) saveInterval() time.Duration {
	return orDefault(s.SaveInterval, DefaultSaveInterval)
}
func (s *Supervisor) drainTimeout() time.Duration {
	return orDefault(s.DrainTimeout, DefaultDrainTimeout)
}
func (s *Supervisor) abandoned() bool { return s.abandon.Load() }
func (s *Supervisor) rejoinAfterEnd() time.Duration {
	return orDefault(s.RejoinAfterEnd, DefaultRejoinAfterEnd)
}
func (s *Supervisor) openTimeout() time.Duration { return orDefault(s.OpenTimeout, DefaultOpenTimeout) }

// fenceMargin is how long before its lease could lapse a listener stops posting: a fifth of
// LeaseTTL. Renewals come every third, so a listener posts without pause while the database
// answers, and stops within LeaseTTL×4/5 of its last renewal when it does not.
func (s *Supervisor) fenceMargin() time.Duration { return s.leaseTTL() / 5 }

// messageLimit is the longest text one notification to platform may carry (0 = no limit).
func (s *Supervisor) messageLimit(platform string) int {
	if n, ok := s.MessageLimits[platform]; ok {
		return n
	}
	return DefaultMessageLimits[platform]
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Run resumes every stored link whose lease it can claim, then keeps listeners in step with the
// links, renews its leases and claims lapsed ones until ctx is done. Then it stops every listener
// (posting what is pending, within DrainTimeout), saves their rosters, hands their leases back,
// ends every session and returns nil. It returns an error only when misconfigured.
//
// Leases are renewed by a loop of their own, so a session that takes long to open or close
// (a node that hangs on new_session or end_session) never delays a renewal: opens and closes run
// concurrently, each within OpenTimeout.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.Store == nil || s.Client == nil || s.Poster == nil || s.ReplicaID == "" {
		return errors.New("relay: Supervisor needs Store, Client, Poster and ReplicaID")
	}
	s.init()
	log := s.logger()
	log.Info("relay starting", "replica", s.ReplicaID, "lease_ttl", s.leaseTTL(), "resync", s.resync())
	renewDone := make(chan struct{})
	renewCtx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(renewDone)
		s.keepLeases(renewCtx)
	}()
	s.syncRound(ctx)
	resync := time.NewTicker(s.resync())
	defer resync.Stop()
	idle := time.NewTicker(max(s.idleSession()/4, 10*time.Millisecond))
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			stopRenew()
			<-renewDone
			return nil
		case <-resync.C:
			s.syncRound(ctx)
		case <-idle.C:
			s.pool.closeIdle()
		}
	}
}

// syncRound runs one sync, bounded by LeaseTTL so a database that hangs delays the next round
// only.
func (s *Supervisor) syncRound(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.leaseTTL())
	defer cancel()
	s.sync(ctx)
	s.rounds.Add(1)
}

// keepLeases renews every lease every LeaseTTL/3 until ctx is done (after shutdown has handed
// them back). A listener whose lease another replica holds stops at once without posting what is
// pending: the replica that took over reports it.
func (s *Supervisor) keepLeases(ctx context.Context) {
	every := s.leaseTTL() / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		lost := s.leases.renewAll(rctx)
		cancel()
		for _, k := range lost {
			s.lost(k)
		}
	}
}

// lost stops listening to meeting k, whose lease another replica holds now.
func (s *Supervisor) lost(k string) {
	s.mu.Lock()
	l := s.lis[k]
	delete(s.lis, k)
	delete(s.rest, k)
	if l != nil {
		s.setBusy(k)
	}
	s.mu.Unlock()
	if l == nil {
		return
	}
	l.log.Warn("lease lost; another replica takes over")
	s.goFinish(l, abandon, forgetLease)
	s.report()
}

// shutdown stops everything. When abandon is set (tests of a crash) it stops goroutines only.
func (s *Supervisor) shutdown() {
	s.startMu.Lock()
	s.mu.Lock()
	s.stopped = true
	lis := make([]*Listener, 0, len(s.lis))
	for _, l := range s.lis {
		lis = append(lis, l)
	}
	s.lis = map[string]*Listener{}
	rested := make([]string, 0, len(s.rest))
	for k := range s.rest {
		rested = append(rested, k)
	}
	clear(s.rest)
	s.mu.Unlock()
	s.startMu.Unlock()
	s.stopOpens()
	s.report()
	if s.abandoned() {
		s.cancel()
		s.tasks.Wait()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.leave(ctx) // the others count one replica fewer at once
	for _, k := range rested {
		s.leases.release(ctx, k)
	}
	cancel()
	var wg sync.WaitGroup
	for _, l := range lis {
		wg.Go(func() { s.finish(l, drain, releaseLease) })
	}
	wg.Wait()
	s.pool.closeAll()
	// Sessions ending (a node that hangs on end_session holds shutdown up 5 s at most); opens in
	// flight see stopped and close what they opened.
	bound := time.AfterFunc(5*time.Second, s.stopCloses)
	s.tasks.Wait()
	bound.Stop()
	s.cancel()
	s.logger().Info("relay stopped", "replica", s.ReplicaID, "meetings", len(lis))
}

// leaseAction says what finish does with a stopped listener's lease.
type leaseAction int

const (
	releaseLease leaseAction = iota // hand it back: another replica may take the meeting now
	keepLease                       // keep renewing it: the relay stays out of the meeting for a while
	forgetLease                     // stop renewing it: it is lost, or lapses by itself
)

// goFinish runs finish in the background; shutdown waits for it.
func (s *Supervisor) goFinish(l *Listener, mode stopMode, lease leaseAction) {
	s.tasks.Go(func() { s.finish(l, mode, lease) })
}

// finish stops l and does what lease says with its lease; then it ends l's session in the
// background (within OpenTimeout), so a node that hangs on end_session holds up nothing. The
// meeting stays busy until its lease is dealt with, so no resync starts another listener of it
// while this one still posts.
func (s *Supervisor) finish(l *Listener, mode stopMode, lease leaseAction) {
	l.stop(mode)
	ctx, cancel := context.WithTimeout(context.Background(), s.openTimeout())
	defer cancel()
	switch lease {
	case releaseLease:
		s.leases.release(ctx, l.key)
	case forgetLease:
		s.leases.forget(l.key)
	}
	s.mu.Lock()
	if s.lis[l.key] == nil {
		s.clearBusy(l.key)
	}
	s.mu.Unlock()
	l.log.Info("listener stopped", "lease", [...]string{"released", "kept", "dropped"}[lease])
	if s.abandoned() {
		return // a crash ends no session
	}
	s.tasks.Go(func() { s.closeSession(l.key, l.sess) })
}

// report tells the Observer how many meetings this replica listens to.
func (s *Supervisor) report() {
	if s.Observer == nil {
		return
	}
	s.mu.Lock()
	n := len(s.lis)
	s.mu.Unlock()
	s.Observer.Listening(n)
}

// sync brings the listeners in step with the stored links: it stops those of meetings no channel
// links any more, adds and removes channels, and claims the meetings no replica listens to. It
// starts sessions in the background and never waits for one to open or close.
func (s *Supervisor) sync(ctx context.Context) {
	links, err := s.Store.AllLinks(ctx)
	chans, ok := unreadableLinks(err)
	if ok {
		err = nil
	}
	if err == nil {
		s.warnUnreadable(chans)
	}
	if err != nil {
		if ctx.Err() == nil {
			s.logger().Warn("reload links; will retry", "err", err)
		}
		return
	}
	byMeeting := map[string][]store.Link{}
	var order []string
	for _, l := range links {
		if linkPaused(l) {
			continue // a host removed the bot: `link` again resumes it
		}
		k := l.Meeting.Key()
		if _, ok := byMeeting[k]; !ok {
			order = append(order, k)
		}
		byMeeting[k] = append(byMeeting[k], l)
	}
	s.pauseResting(ctx, byMeeting)
	replicas := s.liveReplicas(ctx)
	s.startMu.Lock()
	defer s.startMu.Unlock()
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	var gone []*Listener
	for k, l := range s.lis {
		ls, ok := byMeeting[k]
		if !ok || !s.canPost(ls) {
			gone = append(gone, l)
			delete(s.lis, k)
			s.setBusy(k)
			continue
		}
		want := map[chat.ChannelRef]bool{}
		for _, link := range ls {
			want[link.Channel] = true
			l.addChannel(link.Channel)
		}
		for ch := range l.channels() {
			if !want[ch] {
				l.removeChannel(ch)
			}
		}
	}
	now := time.Now()
	var free, unlinked []string
	for k, r := range s.rest {
		if _, linked := byMeeting[k]; !linked && !r.until.IsZero() {
			delete(s.rest, k) // unlinked while resting
			unlinked = append(unlinked, k)
		}
	}
	for _, k := range order {
		if _, ok := s.lis[k]; ok || s.busy[k] != nil {
			continue
		}
		if r, ok := s.rest[k]; ok {
			if r.until.IsZero() || now.Before(r.until) {
				continue
			}
			delete(s.rest, k)
		}
		if r, ok := s.backoff[k]; ok && now.Before(r.next) {
			continue
		}
		if !s.canPost(byMeeting[k]) {
			continue
		}
		free = append(free, k)
	}
	mine := len(s.lis) + len(s.rest)
	for k := range s.busy {
		if s.lis[k] == nil {
			mine++ // opening
		}
	}
	s.mu.Unlock()
	for _, l := range gone {
		s.goFinish(l, drain, releaseLease)
	}
	for _, k := range unlinked {
		s.leases.release(ctx, k)
	}
	target := fairShare(len(byMeeting), replicas)
	claimed := 0
	held := s.heldLeases(ctx, mine >= target && len(free) > 0)
	for _, k := range free {
		if ctx.Err() != nil {
			return
		}
		if mine >= target && !s.orphaned(ctx, k, held) {
			continue
		}
		ls, ok, err := s.leases.claim(ctx, k)
		if err != nil {
			s.logger().Warn("claim lease; will retry", "meeting", k, "err", err)
			continue
		}
		if !ok {
			continue
		}
		s.mu.Lock()
		s.setBusy(k)
		s.mu.Unlock()
		links := byMeeting[k]
		s.tasks.Go(func() { s.resume(links, ls) })
		mine++
		claimed++
	}
	// More than a fair share (one spare): hand one meeting over, without a gap, per round.
	if mine > target+1 {
		s.mu.Lock()
		var pick *Listener
		for k, l := range s.lis {
			if pick == nil || k > pick.key {
				pick = l
			}
		}
		if pick != nil {
			delete(s.lis, pick.key)
			s.setBusy(pick.key)
		}
		s.mu.Unlock()
		if pick != nil {
			pick.log.Info("handing meeting over to balance replicas", "mine", mine, "fair_share", target, "replicas", replicas)
			s.goFinish(pick, drain, releaseLease)
			gone = append(gone, pick)
		}
	}
	if len(gone) > 0 || claimed > 0 {
		s.report()
	}
}

// warnUnreadable warns once per link whose PIN cannot be unsealed: every other meeting is
// listened to. The warning names the channel, never the PIN.
func (s *Supervisor) warnUnreadable(chans []chat.ChannelRef) {
	now := map[chat.ChannelRef]bool{}
	s.mu.Lock()
	var fresh []chat.ChannelRef
	for _, ch := range chans {
		now[ch] = true
		if !s.unreadable[ch] {
			fresh = append(fresh, ch)
		}
	}
	s.unreadable = now
	s.mu.Unlock()
	for _, ch := range fresh {
		s.logger().Warn("link skipped: its PIN was sealed under another MEETBOT_SECRET_KEY; set MEETBOT_SECRET_KEY_PREVIOUS to that key, or `unlink` and `link` the channel again", "channel", ch.String())
	}
}

// orphaned reports whether meeting k has had no lease holder for orphanRounds resyncs in a row:
// a replica over its fair share then takes it anyway, so no meeting stays unheard because the
// replicas' counts disagree for a while.
func (s *Supervisor) orphaned(ctx context.Context, k string, held map[string]bool) bool {
	var owner string
	var err error
	if held != nil {
		if held[leasePrefix+k] {
			owner = "someone"
		}
	} else {
		owner, _, err = s.Store.LeaseHolder(ctx, leasePrefix+k)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || owner != "" {
		delete(s.orphans, k)
		return false
	}
	s.orphans[k]++
	return s.orphans[k] >= orphanRounds
}

// heldLeaseLister is a store that lists the held leases in one statement.
type heldLeaseLister interface {
	HeldLeases(ctx context.Context, prefix string) (map[string]bool, error)
}

// heldLeases returns the meetings' leases someone holds, when want and the store can list them
// at once; nil means ask per meeting. One statement per resync instead of one per meeting
// another replica holds keeps the database's idle load flat in the meetings.
func (s *Supervisor) heldLeases(ctx context.Context, want bool) map[string]bool {
	hl, ok := s.Store.(heldLeaseLister)
	if !want || !ok {
		return nil
	}
	held, err := hl.HeldLeases(ctx, leasePrefix)
	if err != nil {
		return nil // asked per meeting instead; that fails or succeeds on its own
	}
	return held
}

// orphanRounds is how many resyncs a meeting must be seen without a lease holder before a replica
// over its fair share takes it.
const orphanRounds = 3

// fail delays the next attempt at meeting k, doubling up to a minute.
func (s *Supervisor) fail(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.backoff[k]
	r.delay = min(max(2*r.delay, s.resync()), time.Minute)
	r.next = time.Now().Add(r.delay)
	s.backoff[k] = r
}

// resume starts the listener of the meeting of links, whose lease ls this replica now holds: it
// opens a session (within OpenTimeout) and restores the saved roster, so the first sync reports
// only what changed while no one listened. It runs in the background; on failure it hands the
// lease back and retries later with backoff.
func (s *Supervisor) resume(links []store.Link, ls *lease) {
	link := pick(links)
	k := link.Meeting.Key()
	ctx, cancel := context.WithTimeout(s.opens, s.openTimeout())
	defer cancel()
	err := func() error {
		saved, err := s.Store.LoadRoster(ctx, k)
		if err != nil {
			return fmt.Errorf("load roster: %w", err)
		}
		sess, err := s.open(ctx, link)
		if err != nil {
			return err
		}
		restored := saved != nil
		if !restored {
			// Nothing saved (a link this replica's resync saw before its Follow ran, or one
			// made before rosters were kept): who is there now is the baseline, so nobody is
			// announced and nobody who comes before the stream opens is missed.
			saved = s.baseline(ctx, link.Meeting, sess)
		}
		s.startMu.Lock()
		defer s.startMu.Unlock()
		s.mu.Lock()
		stopped := s.stopped
		existing := s.lis[k]
		s.mu.Unlock()
		if stopped || !ls.validAt(time.Now()) {
			s.closeSession(k, sess)
			return errors.New("stopped or lease lost while opening")
		}
		if existing != nil {
			// A link's Follow started it meanwhile: that listener, with its older baseline,
			// stays; this session is not needed.
			s.closeSession(k, sess)
			s.mu.Lock()
			s.clearBusy(k)
			s.mu.Unlock()
			return nil
		}
		s.startListener(link, sess, ls, links, saved)
		s.report()
		s.logger().Info("listening", "meeting", k, "channels", len(links), "restored", restored)
		return nil
	}()
	if err == nil {
		return
	}
	s.mu.Lock()
	s.clearBusy(k)
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return
	}
	s.logger().Warn("resume meeting; will retry", "meeting", k, "err", err)
	s.fail(k)
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.leases.release(rctx, k)
	rcancel()
}

// pick returns the link whose PIN gives the most rights (a host's), so the listener's session
// can serve that channel's commands too.
func pick(links []store.Link) store.Link {
	for _, l := range links {
		if l.Role == "HOST" {
			return l
		}
	}
	return links[0]
}

// open opens a hidden session of the bot in link's meeting and records its participant as the
// bot's.
func (s *Supervisor) open(ctx context.Context, link store.Link) (*meetings.Session, error) {
	sess, err := s.Client.Open(ctx, meetings.Room{Node: link.Node, Alias: link.Meeting.Room}, meetings.SessionOptions{
		DisplayName: s.BotName, PIN: link.PIN.Reveal(), Hidden: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open session in %s: %w", link.Meeting.Room, err)
	}
	s.recordBot(ctx, link.Meeting.Key(), sess)
	return sess, nil
}

// closeSession ends sess (within OpenTimeout) and forgets its participant.
func (s *Supervisor) closeSession(k string, sess *meetings.Session) {
	ctx, cancel := context.WithTimeout(s.closes, s.openTimeout())
	defer cancel()
	s.forgetBot(ctx, k, sess)
	if err := sess.Close(ctx); err != nil && !errors.Is(err, meetings.ErrSessionClosed) {
		s.logger().Warn("end session", "meeting", k, "err", err)
	}
}

// startListener starts and registers a listener. Call with startMu held.
func (s *Supervisor) startListener(link store.Link, sess *meetings.Session, ls *lease, links []store.Link, restore []store.RosterEntry) {
	l := s.newListener(link.Meeting, link.Name, link.PIN, sess, ls, restore)
	chans := make([]chat.ChannelRef, 0, len(links))
	for _, x := range links {
		chans = append(chans, x.Channel)
	}
	s.mu.Lock()
	s.lis[l.key] = l
	s.clearBusy(l.key)
	delete(s.backoff, l.key)
	delete(s.orphans, l.key)
	s.mu.Unlock()
	l.start(s.base, chans)
}

// retire stops a listener whose event stream gave up, hands its lease back and retries later.
func (s *Supervisor) retire(l *Listener, err error) {
	s.mu.Lock()
	if s.lis[l.key] != l {
		s.mu.Unlock()
		return
	}
	delete(s.lis, l.key)
	s.setBusy(l.key)
	s.mu.Unlock()
	s.fail(l.key)
	s.finish(l, drain, releaseLease)
	s.report()
}

// Follow starts listening to link's meeting now, taking over sess, the session the link command
// opened. If this replica already listens to the meeting, it adds link's channel; if another
// replica holds the meeting's lease, that replica adds the channel within Resync and sess is kept
// for this replica's commands. Follow owns sess from the call on, whatever it returns.
func (s *Supervisor) Follow(ctx context.Context, link store.Link, sess *meetings.Session) error {
	s.init()
	k := link.Meeting.Key()
	// A session of the meeting being opened or closed by a resync: wait for it (within
	// OpenTimeout), so the channel joins the listener that results, whose baseline is older
	// than this link.
	for {
		s.mu.Lock()
		busy := s.busy[k]
		s.mu.Unlock()
		if busy == nil {
			s.startMu.Lock()
			s.mu.Lock()
			if s.busy[k] == nil {
				break // with both locks held: no resync can start opening it now
			}
			// A resync began opening it between the two looks: wait for that one too, or
			// its baseline would be taken after this link's caller carries on.
			s.mu.Unlock()
			s.startMu.Unlock()
			continue
		}
		select {
		case <-busy:
		case <-ctx.Done():
			s.pool.offer(link, sess)
			return nil // the next resync adds the channel
		}
	}
	defer s.startMu.Unlock()
	stopped := s.stopped
	l := s.lis[k]
	busy := s.busy[k] != nil
	_, resting := s.rest[k]
	// Linking again is how a channel resumes a meeting the bot was removed from, or one that
	// just ended: the rest is over.
	delete(s.rest, k)
	s.mu.Unlock()
	if stopped {
		closeQuietly(sess)
		return ErrStopped
	}
	s.recordBot(ctx, k, sess)
	s.moveChannel(link.Channel, k)
	links, err := s.Store.LinksByMeeting(ctx, link.Meeting)
	if _, ok := unreadableLinks(err); ok {
		err = nil // the others are good
	}
	if err != nil || len(links) == 0 {
		links = []store.Link{link}
	}
	if !hasChannel(links, link.Channel) {
		links = append(links, link)
	}
	if !s.canPost(links) || busy {
		// Another replica, with adapters for every linked channel, picks the meeting up; or
		// this one's listener is opening or stopping, and the next resync adds the channel.
		if resting {
			s.leases.release(ctx, k)
		}
		s.pool.offer(link, sess)
		return nil
	}
	if l != nil {
		l.addChannel(link.Channel)
		s.pool.offer(link, sess)
		return nil
	}
	ls, ok, err := s.leases.claim(ctx, k)
	if err != nil {
		s.pool.offer(link, sess)
		return fmt.Errorf("claim lease of %s: %w", link.Meeting.Room, err)
	}
	if !ok {
		s.pool.offer(link, sess)
		return nil
	}
	// A brand-new link: the people present now are the baseline, so the first sync reports
	// whoever came or went between the link command and the stream's subscription, and no one
	// else. Without them (the request failed) the first sync sets the baseline silently.
	s.startListener(link, sess, ls, links, s.baseline(ctx, link.Meeting, sess))
	s.report()
	s.logger().Info("listening", "meeting", k, "channels", len(links), "restored", false)
	return nil
}

// canPost reports whether this replica has an adapter for every channel in links.
func (s *Supervisor) canPost(links []store.Link) bool {
	if s.Platforms == nil {
		return true
	}
	for _, l := range links {
		if !slices.Contains(s.Platforms, l.Channel.Platform) {
			return false
		}
	}
	return true
}

// baseline returns who is in sess's meeting now, leaving out the bot itself, or nil when the
// platform cannot tell. It saves what it returns at once: a replica that takes the meeting over
// before the listener's first save then reports changes against it rather than starting blind.
func (s *Supervisor) baseline(ctx context.Context, m store.MeetingRef, sess *meetings.Session) []store.RosterEntry {
	ps, err := sess.Participants(ctx)
	if err != nil {
		s.logger().Warn("participants at start; the first sync sets the baseline", "meeting", m.Key(), "err", err)
		return nil
	}
	out := make([]store.RosterEntry, 0, len(ps))
	for _, p := range s.withoutBots(ctx, m.Key(), sess, ps) {
		out = append(out, store.RosterEntry{UUID: p.UUID, Name: p.DisplayName, Role: p.Role, Presenting: p.IsPresenting})
	}
	if err := s.Store.SaveRoster(ctx, m.Key(), out); err != nil {
		s.logger().Warn("save baseline roster", "meeting", m.Key(), "err", err)
	}
	return out
}

// moveChannel stops posting to ch from listeners of meetings other than k (the channel was
// relinked to another meeting); a listener left without channels stops at the next resync.
func (s *Supervisor) moveChannel(ch chat.ChannelRef, k string) {
	s.mu.Lock()
	var others []*Listener
	for key, l := range s.lis {
		if key != k {
			others = append(others, l)
		}
	}
	s.mu.Unlock()
	for _, l := range others {
		l.removeChannel(ch)
	}
}

func hasChannel(links []store.Link, ch chat.ChannelRef) bool {
	for _, l := range links {
		if l.Channel == ch {
			return true
		}
	}
	return false
}

// Unfollow stops posting to link's channel; when no channel links the meeting any more, it stops
// the meeting's listener, ends its session, and hands its lease back. Call it
// after the link was deleted. On a replica that does not listen, the listening one notices within
// Resync.
func (s *Supervisor) Unfollow(ctx context.Context, link store.Link) error {
	s.init()
	k := link.Meeting.Key()
	links, err := s.Store.LinksByMeeting(ctx, link.Meeting)
	if _, ok := unreadableLinks(err); err != nil && !ok {
		return fmt.Errorf("links of %s: %w", link.Meeting.Room, err)
	}
	remaining := 0
	for _, x := range links {
		if x.Channel != link.Channel {
			remaining++
		}
	}
	s.startMu.Lock()
	s.mu.Lock()
	l := s.lis[k]
	if remaining == 0 && l != nil {
		delete(s.lis, k)
		s.setBusy(k)
	}
	_, resting := s.rest[k]
	if remaining == 0 {
		delete(s.rest, k)
	}
	s.mu.Unlock()
	s.startMu.Unlock()
	if remaining > 0 {
		if l != nil {
			l.removeChannel(link.Channel)
		}
		return nil
	}
	s.pool.closeMeeting(k)
	if resting {
		s.leases.release(ctx, k)
	}
	if l != nil {
		s.finish(l, drain, releaseLease)
		s.report()
	}
	return nil
}

// Session returns a session of link's meeting for a command: the listener's own when this replica
// listens and the link's PIN is the listener's, else a pooled session opened on demand with the
// link's PIN (kept for IdleSession). The caller must not close it.
func (s *Supervisor) Session(ctx context.Context, link store.Link) (*meetings.Session, error) {
	s.init()
	s.mu.Lock()
	stopped := s.stopped
	l := s.lis[link.Meeting.Key()]
	s.mu.Unlock()
	if stopped {
		return nil, ErrStopped
	}
	if l != nil && l.pin == link.PIN {
		return l.sess, nil
	}
	return s.pool.get(ctx, link)
}

// Roster returns who is in link's meeting, the bot's own sessions left out. Where this replica
// listens, it is the listener's live roster and costs nothing; elsewhere it is one participants
// request through a pooled session (one round trip to the platform, plus a new_session the first
// time in IdleSession).
func (s *Supervisor) Roster(ctx context.Context, link store.Link) ([]meetings.Participant, error) {
	s.init()
	s.mu.Lock()
	l := s.lis[link.Meeting.Key()]
	s.mu.Unlock()
	if l != nil {
		if ps, ok := l.participants(); ok {
			return ps, nil
		}
	}
	sess, err := s.Session(ctx, link)
	if err != nil {
		return nil, err
	}
	ps, err := sess.Participants(ctx)
	if err != nil {
		return nil, fmt.Errorf("participants of %s: %w", link.Meeting.Room, err)
	}
	return s.withoutBots(ctx, link.Meeting.Key(), sess, ps), nil
}

// withoutBots returns ps without the bot's own participants in meeting key, asking the store
// about those who came through the API (another replica's session may be newer than what this
// one knows).
func (s *Supervisor) withoutBots(ctx context.Context, key string, sess *meetings.Session, ps []meetings.Participant) []meetings.Participant {
	var api []string
	for _, p := range ps {
		if strings.EqualFold(p.Protocol, "api") {
			api = append(api, p.UUID)
		}
	}
	var fresh map[string]bool
	if len(api) > 0 {
		fresh = s.botsAmong(ctx, key, sess, api)
	}
	out := ps[:0:0]
	for _, p := range ps {
		if s.isBot(key, sess, p) || fresh[p.UUID] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// Listening reports the keys of the meetings this replica listens to now.
func (s *Supervisor) Listening() []string {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.lis))
	for k := range s.lis {
		keys = append(keys, k)
	}
	return keys
}

func closeQuietly(sess *meetings.Session) {
	if sess == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = sess.Close(ctx)
}
