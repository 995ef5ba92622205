package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meetbot/meetbot/chat"
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
)

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
	DrainTimeout time.Duration // how long shutdown waits for pending notices; default 5 s

	once   sync.Once
	base   context.Context // parent of every listener; cancelled when Run returns
	cancel context.CancelFunc

	startMu sync.Mutex // serialises starting and stopping listeners
	mu      sync.Mutex // guards what follows
	lis     map[string]*Listener
	backoff map[string]retry // meetings whose listener failed, by key
	orphans map[string]int   // meetings seen without a lease holder, by key: rounds in a row
	stopped bool
	pool    *pool

	abandon atomic.Bool // tests: Run returns as if the process died (no drain, no release, no end_session)
}

type retry struct {
	next  time.Time
	delay time.Duration
}

func (s *Supervisor) init() {
	s.once.Do(func() {
		s.base, s.cancel = context.WithCancel(context.Background())
		s.lis = map[string]*Listener{}
		s.backoff = map[string]retry{}
		s.orphans = map[string]int{}
		s.pool = &pool{sup: s, entries: map[string]*pooled{}}
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
func (s *Supervisor) Run(ctx context.Context) error {
	if s.Store == nil || s.Client == nil || s.Poster == nil || s.ReplicaID == "" {
		return errors.New("relay: Supervisor needs Store, Client, Poster and ReplicaID")
	}
	s.init()
	log := s.logger()
	log.Info("relay starting", "replica", s.ReplicaID, "lease_ttl", s.leaseTTL(), "resync", s.resync())
	s.sync(ctx)
	resync := time.NewTicker(s.resync())
	defer resync.Stop()
	renew := time.NewTicker(s.leaseTTL() / 3)
	defer renew.Stop()
	idle := time.NewTicker(max(s.idleSession()/4, 10*time.Millisecond))
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			return nil
		case <-renew.C:
			s.renew(ctx)
		case <-resync.C:
			s.sync(ctx)
		case <-idle.C:
			s.pool.closeIdle(ctx)
		}
	}
}

// shutdown stops everything. When abandon is set (tests of a crash) it stops goroutines only.
func (s *Supervisor) shutdown() {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	s.mu.Lock()
	s.stopped = true
	lis := make([]*Listener, 0, len(s.lis))
	for _, l := range s.lis {
		lis = append(lis, l)
	}
	s.lis = map[string]*Listener{}
	s.mu.Unlock()
	s.report()
	if s.abandoned() {
		s.cancel()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.leave(ctx) // the others count one replica fewer at once
	cancel()
	var wg sync.WaitGroup
	for _, l := range lis {
		wg.Go(func() { s.finish(l, drain, true) })
	}
	wg.Wait()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	s.pool.closeAll(ctx)
	cancel()
	s.cancel()
	s.logger().Info("relay stopped", "replica", s.ReplicaID, "meetings", len(lis))
}

// finish stops l, then (with release) hands its lease back, and ends its session.
func (s *Supervisor) finish(l *Listener, mode stopMode, release bool) {
	l.stop(mode)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if release {
		if err := s.Store.ReleaseLease(ctx, leasePrefix+l.key, s.ReplicaID); err != nil {
			l.log.Warn("release lease; it lapses by itself", "err", err)
		}
	}
	if err := l.sess.Close(ctx); err != nil && !errors.Is(err, meetings.ErrSessionClosed) {
		l.log.Warn("end session", "err", err)
	}
	l.log.Info("listener stopped", "released", release)
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
// links any more, adds and removes channels, and claims the meetings no replica listens to.
func (s *Supervisor) sync(ctx context.Context) {
	links, err := s.Store.AllLinks(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.logger().Warn("reload links; will retry", "err", err)
		}
		return
	}
	byMeeting := map[string][]store.Link{}
	var order []string
	for _, l := range links {
		k := l.Meeting.Key()
		if _, ok := byMeeting[k]; !ok {
			order = append(order, k)
		}
		byMeeting[k] = append(byMeeting[k], l)
	}
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
	var free []string
	for _, k := range order {
		if _, ok := s.lis[k]; ok {
			continue
		}
		if r, ok := s.backoff[k]; ok && now.Before(r.next) {
			continue
		}
		if !s.canPost(byMeeting[k]) {
			continue
		}
		free = append(free, k)
	}
	mine := len(s.lis)
	s.mu.Unlock()
	for _, l := range gone {
		s.finish(l, drain, true)
	}
	target := fairShare(len(byMeeting), replicas)
	claimed := 0
	for _, k := range free {
		if ctx.Err() != nil {
			return
		}
		if mine >= target && !s.orphaned(ctx, k) {
			continue
		}
		ok, err := s.Store.ClaimLease(ctx, leasePrefix+k, s.ReplicaID, s.leaseTTL())
		if err != nil {
			s.logger().Warn("claim lease; will retry", "meeting", k, "err", err)
			continue
		}
		if !ok {
			continue
		}
		if err := s.resume(ctx, byMeeting[k]); err != nil {
			s.logger().Warn("resume meeting; will retry", "meeting", k, "err", err)
			s.fail(k)
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = s.Store.ReleaseLease(rctx, leasePrefix+k, s.ReplicaID)
			cancel()
			continue
		}
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
		}
		s.mu.Unlock()
		if pick != nil {
			pick.log.Info("handing meeting over to balance replicas", "mine", mine, "fair_share", target, "replicas", replicas)
			s.finish(pick, drain, true)
			gone = append(gone, pick)
		}
	}
	if len(gone) > 0 || claimed > 0 {
		s.report()
	}
}

// orphaned reports whether meeting k has had no lease holder for orphanRounds resyncs in a row:
// a replica over its fair share then takes it anyway, so no meeting stays unheard because the
// replicas' counts disagree for a while.
func (s *Supervisor) orphaned(ctx context.Context, k string) bool {
	owner, _, err := s.Store.LeaseHolder(ctx, leasePrefix+k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || owner != "" {
		delete(s.orphans, k)
		return false
	}
	s.orphans[k]++
	return s.orphans[k] >= orphanRounds
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

// resume starts the listener of the meeting of links, whose lease this replica now holds: it
// opens a session and restores the saved roster, so the first sync reports only what changed
// while no one listened. Call with startMu held.
func (s *Supervisor) resume(ctx context.Context, links []store.Link) error {
	link := pick(links)
	saved, err := s.Store.LoadRoster(ctx, link.Meeting.Key())
	if err != nil {
		return fmt.Errorf("load roster: %w", err)
	}
	sess, err := s.open(ctx, link)
	if err != nil {
		return err
	}
	restored := saved != nil
	if !restored {
		// Nothing saved (a link this replica's resync saw before its Follow ran, or one made
		// before rosters were kept): who is there now is the baseline, so nobody is announced
		// and nobody who comes before the stream opens is missed.
		saved = s.baseline(ctx, link.Meeting, sess)
	}
	s.startListener(link, sess, links, saved)
	s.logger().Info("listening", "meeting", link.Meeting.Key(), "channels", len(links), "restored", restored)
	return nil
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

// open opens a hidden session of the bot in link's meeting.
func (s *Supervisor) open(ctx context.Context, link store.Link) (*meetings.Session, error) {
	sess, err := s.Client.Open(ctx, meetings.Room{Node: link.Node, Alias: link.Meeting.Room}, meetings.SessionOptions{
		DisplayName: s.BotName, PIN: link.PIN.Reveal(), Hidden: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open session in %s: %w", link.Meeting.Room, err)
	}
	return sess, nil
}

// startListener starts and registers a listener. Call with startMu held.
func (s *Supervisor) startListener(link store.Link, sess *meetings.Session, links []store.Link, restore []store.RosterEntry) {
	l := s.newListener(link.Meeting, link.Name, link.PIN, sess, restore)
	chans := make([]chat.ChannelRef, 0, len(links))
	for _, x := range links {
		chans = append(chans, x.Channel)
	}
	s.mu.Lock()
	s.lis[l.key] = l
	delete(s.backoff, l.key)
	delete(s.orphans, l.key)
	s.mu.Unlock()
	l.start(s.base, chans)
}

// renew extends the lease of every listener. A listener whose lease was lost, or could not be
// renewed for two thirds of LeaseTTL (before the database lets another replica claim it, so two
// replicas never post for one meeting at once), stops at once without posting what is pending:
// the replica that takes over reports it.
func (s *Supervisor) renew(ctx context.Context) {
	s.mu.Lock()
	lis := make([]*Listener, 0, len(s.lis))
	for _, l := range s.lis {
		lis = append(lis, l)
	}
	s.mu.Unlock()
	ttl := s.leaseTTL()
	for _, l := range lis {
		ok, err := s.Store.RenewLease(ctx, leasePrefix+l.key, s.ReplicaID, ttl)
		s.mu.Lock()
		switch {
		case err == nil && ok:
			l.renewed = time.Now()
			s.mu.Unlock()
			continue
		case err != nil && time.Since(l.renewed) < ttl*2/3:
			s.mu.Unlock()
			if ctx.Err() == nil {
				l.log.Warn("renew lease; will retry", "err", err)
			}
			continue
		}
		if s.lis[l.key] != l {
			s.mu.Unlock()
			continue
		}
		delete(s.lis, l.key)
		s.mu.Unlock()
		l.log.Warn("lease lost; another replica takes over", "err", err)
		go s.finish(l, abandon, false)
		s.report()
	}
}

// retire stops a listener whose event stream gave up, hands its lease back and retries later.
func (s *Supervisor) retire(l *Listener, err error) {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	s.mu.Lock()
	if s.lis[l.key] != l {
		s.mu.Unlock()
		return
	}
	delete(s.lis, l.key)
	s.mu.Unlock()
	s.fail(l.key)
	s.finish(l, drain, true)
	s.report()
}

// Follow starts listening to link's meeting now, taking over sess, the session the link command
// opened. If this replica already listens to the meeting, it adds link's channel; if another
// replica holds the meeting's lease, that replica adds the channel within Resync and sess is kept
// for this replica's commands. Follow owns sess from the call on, whatever it returns.
func (s *Supervisor) Follow(ctx context.Context, link store.Link, sess *meetings.Session) error {
	s.init()
	k := link.Meeting.Key()
	s.startMu.Lock()
	defer s.startMu.Unlock()
	s.mu.Lock()
	stopped := s.stopped
	l := s.lis[k]
	s.mu.Unlock()
	if stopped {
		closeQuietly(sess)
		return ErrStopped
	}
	s.moveChannel(link.Channel, k)
	links, err := s.Store.LinksByMeeting(ctx, link.Meeting)
	if err != nil || len(links) == 0 {
		links = []store.Link{link}
	}
	if !hasChannel(links, link.Channel) {
		links = append(links, link)
	}
	if !s.canPost(links) {
		// Another replica, with adapters for every linked channel, picks the meeting up.
		s.pool.offer(link, sess)
		return nil
	}
	if l != nil {
		l.addChannel(link.Channel)
		s.pool.offer(link, sess)
		return nil
	}
	ok, err := s.Store.ClaimLease(ctx, leasePrefix+k, s.ReplicaID, s.leaseTTL())
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
	s.startListener(link, sess, links, s.baseline(ctx, link.Meeting, sess))
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
	self := sess.Info().ParticipantUUID
	out := make([]store.RosterEntry, 0, len(ps))
	for _, p := range ps {
		if p.UUID == self || s.BotName != "" && p.DisplayName == s.BotName && p.Protocol == "api" {
			continue
		}
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
	if err != nil {
		return fmt.Errorf("links of %s: %w", link.Meeting.Room, err)
	}
	remaining := 0
	for _, x := range links {
		if x.Channel != link.Channel {
			remaining++
		}
	}
	s.startMu.Lock()
	defer s.startMu.Unlock()
	s.mu.Lock()
	l := s.lis[k]
	if remaining == 0 && l != nil {
		delete(s.lis, k)
	}
	s.mu.Unlock()
	if remaining > 0 {
		if l != nil {
			l.removeChannel(link.Channel)
		}
		return nil
	}
	s.pool.closeMeeting(ctx, k)
	if l != nil {
		s.finish(l, drain, true)
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
	self := sess.Info().ParticipantUUID
	out := ps[:0:0]
	for _, p := range ps {
		if p.UUID == self || s.BotName != "" && p.DisplayName == s.BotName && p.Protocol == "api" {
			continue
		}
		out = append(out, p)
	}
	return out, nil
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
