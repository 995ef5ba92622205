package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/jonboulle/clockwork"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// Store is what the scheduler keeps in the store: the schedules and the claims of their runs,
// channel settings for the time zone, and the audit log.
type Store interface {
	store.Schedules
	GetSettings(ctx context.Context, ch chat.ChannelRef) (store.ChannelSettings, error)
	AppendAudit(ctx context.Context, e store.AuditEntry) error
}

// Config configures a Scheduler. Store, Handler and Poster are required.
type Config struct {
	Store Store
	// Handler runs a scheduled command through the command core.
	Handler chat.Handler
	// Poster posts each run's outcome, and each missed run, to the schedule's channel.
	Poster chat.Poster
	// Rights, when set, tells the author's rights at run time, so a command runs with the rights
	// its author has then rather than those they had when scheduling. When nil, the rights stored
	// with the schedule are used.
	Rights chat.RightsResolver
	// DefaultTZ is the time zone of channels that set none (SCHEDULE_TZ); UTC when nil.
	DefaultTZ *time.Location
	// ReplicaID names this replica in run claims; a random id when empty.
	ReplicaID string
	// Reload is how often the stored schedules are read again, to pick up schedules added or
	// removed on other replicas; 5 s when zero.
	Reload time.Duration
	// RunTimeout bounds one run of a command (posting its outcome has 15 s more); 30 s when
	// zero.
	RunTimeout time.Duration
	// MaxPerChannel is how many schedules one channel may have (SCHEDULE_MAX_PER_CHANNEL); Add
	// refuses more with a *LimitError. DefaultMaxPerChannel when zero; no limit when negative.
	MaxPerChannel int
	// MinInterval is the shortest gap allowed between two runs of a cron schedule
	// (SCHEDULE_MIN_INTERVAL), judged over the spec's next runs; Add refuses a spec that runs
	// more often with a *SpecError. DefaultMinInterval when zero; no limit when negative.
	MinInterval time.Duration
	// Pruner, when set, deletes audit entries and schedule runs older than Retention: at start and
	// then once a day (prune.go). Nothing is pruned when nil.
	Pruner Pruner
	// Retention is how long audit entries and schedule runs are kept (AUDIT_RETENTION);
	// DefaultRetention when zero.
	Retention time.Duration
	// Logger receives the scheduler's and gocron's lines; nothing when nil.
	Logger *slog.Logger
	// Clock drives gocron's timers and the reload ticker; the real clock when nil. Tests pass a
	// clockwork fake clock.
	Clock clockwork.Clock
	// Now reads the time; Clock.Now when nil.
	Now func() time.Time
}

// The limits on schedules when Config leaves them zero. A schedule is a command run on someone's
// behalf without anyone watching: fifty per channel and one run per five minutes keep a typo or a
// hostile host from dialling a premium number every minute or flooding the audit log.
const (
	DefaultMaxPerChannel = 50
	DefaultMinInterval   = 5 * time.Minute
)

// lateGrace is how late a run may start after its slot, when the bot (re)starts just after it,
// and still run rather than be reported as missed.
const lateGrace = time.Minute

// slotTolerance absorbs a timer that fires a hair before its slot (a wall clock stepped back).
const slotTolerance = 2 * time.Second

// Scheduler runs stored schedules through the command core. It implements the Scheduler interface
// of package commands (Add, Remove, List). It is safe for concurrent use; Run may be called once.
type Scheduler struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	gs      gocron.Scheduler // nil until Run starts it
	jobs    map[int64]*entry // schedules registered with gocron
	settled map[int64]bool   // past one-time schedules another replica handled: not loaded again
	started bool
	late    sync.WaitGroup
}

// entry is one schedule registered with gocron.
type entry struct {
	sched store.Schedule
	spec  Spec
	log   *slog.Logger

	mu      sync.Mutex
	claimed []time.Time // slots claimed by Lock, taken by the job in order
}

// New returns a Scheduler; it does nothing until Run.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Store == nil || cfg.Handler == nil || cfg.Poster == nil {
		return nil, errors.New("scheduler: Store, Handler and Poster are required")
	}
	if cfg.DefaultTZ == nil {
		cfg.DefaultTZ = time.UTC
	}
	if cfg.ReplicaID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.ReplicaID = "replica-" + hex.EncodeToString(b[:])
	}
	if cfg.Reload <= 0 {
		cfg.Reload = 5 * time.Second
	}
	if cfg.RunTimeout <= 0 {
		cfg.RunTimeout = 30 * time.Second
	}
	if cfg.MaxPerChannel == 0 {
		cfg.MaxPerChannel = DefaultMaxPerChannel
	}
	if cfg.MinInterval == 0 {
		cfg.MinInterval = DefaultMinInterval
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Now == nil {
		cfg.Now = cfg.Clock.Now
	}
	return &Scheduler{
		cfg:     cfg,
		log:     cfg.Logger,
		jobs:    make(map[int64]*entry),
		settled: make(map[int64]bool),
	}, nil
}

// Run starts gocron, loads every stored schedule (reporting runs missed while the bot was down),
// reads the stored schedules again every Reload interval, prunes old history with Pruner at start
// and daily, and stops cleanly when ctx is done: it lets runs in progress finish (each bounded by
// RunTimeout) and returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	gs, err := gocron.NewScheduler(
		gocron.WithClock(s.cfg.Clock),
		gocron.WithLocation(time.UTC),
		gocron.WithLogger(s.log),
		gocron.WithDistributedLocker(slotLocker{s}),
		gocron.WithStopTimeout(s.cfg.RunTimeout+reportTimeout+5*time.Second),
	)
	if err != nil {
		return fmt.Errorf("start gocron: %w", err)
	}
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		_ = gs.Shutdown()
		return errors.New("scheduler: Run called twice")
	}
	s.started = true
	s.gs = gs
	s.mu.Unlock()

	gs.Start()
	s.log.Info("scheduler started")
	if err := s.sync(ctx); err != nil {
		s.log.Warn("load schedules; retrying at the next reload", "err", err)
	}
	var pruning sync.WaitGroup
	if s.cfg.Pruner != nil {
		// Beside the reload loop, so a long first prune does not hold schedules back.
		pruning.Go(func() { s.pruneLoop(ctx) })
	}
	ticker := s.cfg.Clock.NewTicker(s.cfg.Reload)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			pruning.Wait()
			s.late.Wait()
			if err := gs.Shutdown(); err != nil {
				s.log.Warn("stop gocron", "err", err)
			}
			s.mu.Lock()
			s.gs = nil
			s.jobs = make(map[int64]*entry)
			s.mu.Unlock()
			s.log.Info("scheduler stopped")
			return nil
		case <-ticker.Chan():
			if err := s.sync(ctx); err != nil {
				s.log.Warn("reload schedules", "err", err)
			}
		}
	}
}

// Add validates sched.Spec in the schedule's time zone (sched.TimeZone, else the channel's, else
// DefaultTZ), refuses a malformed spec or a past time with a *SpecError, stores the schedule with
// its canonical spec, time zone and next run, and starts it when Run is running (else Run loads
// it). It returns the stored schedule with its ID.
func (s *Scheduler) Add(ctx context.Context, sched store.Schedule) (store.Schedule, error) {
	if sched.Channel.IsZero() {
		return store.Schedule{}, errors.New("add schedule: no channel")
	}
	if strings.TrimSpace(sched.Command) == "" {
		return store.Schedule{}, &SpecError{Spec: sched.Spec, Reason: "has no command to run"}
	}
	loc, err := s.addLocation(ctx, sched)
	if err != nil {
		return store.Schedule{}, err
	}
	now := s.cfg.Now()
	spec, err := ParseSpec(sched.Spec, loc, now)
	if err != nil {
		return store.Schedule{}, err
	}
	if err := s.checkLimits(ctx, sched.Channel, spec, now); err != nil {
		return store.Schedule{}, err
	}
	sched.Spec = spec.Text
	sched.TimeZone = loc.String()
	sched.OneTime = spec.OneTime
	sched.NextRun = spec.Next(now)
	if sched.CreatedAt.IsZero() {
		sched.CreatedAt = now
	}
	stored, err := s.cfg.Store.AddSchedule(ctx, sched)
	if err != nil {
		return store.Schedule{}, fmt.Errorf("add schedule: %w", err)
	}
	s.mu.Lock()
	gs := s.gs
	s.mu.Unlock()
	if gs != nil {
		if _, err := s.register(stored, spec); err != nil {
			if derr := s.cfg.Store.DeleteSchedule(ctx, stored.Channel, stored.ID); derr != nil {
				s.log.Error("drop schedule that could not start", "schedule", stored.ID, "err", derr)
			}
			return store.Schedule{}, fmt.Errorf("start schedule %d: %w", stored.ID, err)
		}
	}
	s.log.Info("schedule added", "schedule", stored.ID, "channel", stored.Channel.String(),
		"spec", stored.Spec, "tz", stored.TimeZone, "next", stored.NextRun)
	return stored, nil
}

// checkLimits refuses a cron spec that runs more often than MinInterval, and a schedule beyond
// MaxPerChannel in ch. The count is read before the insert, so two schedules added at the same
// moment on two replicas may pass it together: the limit bounds growth, it is not a quota.
func (s *Scheduler) checkLimits(ctx context.Context, ch chat.ChannelRef, spec Spec, now time.Time) error {
	if floor := s.cfg.MinInterval; floor > 0 && !spec.OneTime {
		if gap, ok := spec.shortestGap(now, floor); ok && gap < floor {
			return &SpecError{Spec: spec.Text, Reason: fmt.Sprintf(
				"runs too often: two of its runs are %s apart, and schedules may run at most every %s",
				humanDuration(gap), humanDuration(floor))}
		}
	}
	if limit := s.cfg.MaxPerChannel; limit > 0 {
		list, err := s.cfg.Store.ListSchedules(ctx, ch)
		if err != nil {
			return fmt.Errorf("count schedules of %s: %w", ch, err)
		}
		if len(list) >= limit {
			return &LimitError{Max: limit}
		}
	}
	return nil
}

// LimitError refuses a schedule because its channel has as many as it may have. Its message is
// safe and meant for the user.
type LimitError struct {
	Max int // Config.MaxPerChannel
}

// Error returns the message shown to the user.
func (e *LimitError) Error() string { return e.UserMessage() }

// UserMessage returns one line telling the user why nothing was scheduled and what to do.
func (e *LimitError) UserMessage() string {
	return fmt.Sprintf("This channel already has %d schedules, the most it may have; remove one first (see schedules).", e.Max)
}

// Remove deletes schedule id of channel ch and stops it here; other replicas stop it at their next
// reload, and a run they start before that finds it gone and does nothing. If ch has no schedule
// id, the error wraps store.ErrNotFound.
func (s *Scheduler) Remove(ctx context.Context, ch chat.ChannelRef, id int64) error {
	if err := s.cfg.Store.DeleteSchedule(ctx, ch, id); err != nil {
		return fmt.Errorf("remove schedule %d: %w", id, err)
	}
	s.unregister(id)
	s.log.Info("schedule removed", "schedule", id, "channel", ch.String())
	return nil
}

// List returns the schedules of ch, ordered by ID, each with its next run: computed from the spec
// for cron schedules, so it is current even if the stored value is behind.
func (s *Scheduler) List(ctx context.Context, ch chat.ChannelRef) ([]store.Schedule, error) {
	list, err := s.cfg.Store.ListSchedules(ctx, ch)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	now := s.cfg.Now()
	for i, sc := range list {
		if sc.OneTime {
			continue
		}
		spec, err := parseStored(sc.Spec, false, s.location(ctx, sc))
		if err != nil {
			continue
		}
		list[i].NextRun = spec.Next(now)
	}
	return list, nil
}

// addLocation picks the time zone a new schedule is read in.
func (s *Scheduler) addLocation(ctx context.Context, sched store.Schedule) (*time.Location, error) {
	if sched.TimeZone != "" {
		loc, err := time.LoadLocation(sched.TimeZone)
		if err != nil {
			return nil, &SpecError{Spec: sched.Spec, Reason: fmt.Sprintf("cannot be read: unknown time zone %q", sched.TimeZone)}
		}
		return loc, nil
	}
	set, err := s.cfg.Store.GetSettings(ctx, sched.Channel)
	if err != nil {
		return nil, fmt.Errorf("read time zone of %s: %w", sched.Channel, err)
	}
	if set.TimeZone == "" {
		return s.cfg.DefaultTZ, nil
	}
	loc, err := time.LoadLocation(set.TimeZone)
	if err != nil {
		s.log.Warn("channel time zone unknown; using the default", "channel", sched.Channel.String(), "tz", set.TimeZone)
		return s.cfg.DefaultTZ, nil
	}
	return loc, nil
}

// location returns the time zone a stored schedule is read in.
func (s *Scheduler) location(ctx context.Context, sc store.Schedule) *time.Location {
	if sc.TimeZone != "" {
		if sc.TimeZone == s.cfg.DefaultTZ.String() {
			return s.cfg.DefaultTZ
		}
		if loc, err := time.LoadLocation(sc.TimeZone); err == nil {
			return loc
		}
		s.log.Warn("schedule's time zone unknown; using the default", "schedule", sc.ID, "tz", sc.TimeZone)
		return s.cfg.DefaultTZ
	}
	loc, err := s.addLocation(ctx, store.Schedule{Channel: sc.Channel})
	if err != nil {
		return s.cfg.DefaultTZ
	}
	return loc
}

// jobName is the stable, unique gocron name of schedule id: the key slotLocker receives.
func jobName(id int64) string { return "meetbot-schedule-" + strconv.FormatInt(id, 10) }

// jobTag tags schedule id's gocron job, to remove it.
func jobTag(id int64) string { return "schedule-" + strconv.FormatInt(id, 10) }

// idFromJobName reads back jobName.
func idFromJobName(name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, "meetbot-schedule-")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

// register adds a gocron job for sc and returns its entry. A one-time schedule whose moment has
// passed (by less than lateGrace: load decides) runs at once.
func (s *Scheduler) register(sc store.Schedule, spec Spec) (*entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gs == nil {
		return nil, nil // Run is not running: it loads the schedule when it starts
	}
	if e, ok := s.jobs[sc.ID]; ok {
		return e, nil
	}
	e := &entry{sched: sc, spec: spec,
		log: s.log.With("schedule", sc.ID, "channel", sc.Channel.String())}
	var def gocron.JobDefinition
	if spec.OneTime {
		start := gocron.OneTimeJobStartDateTime(spec.At)
		if !spec.At.After(s.cfg.Now()) {
			start = gocron.OneTimeJobStartImmediately()
		}
		def = gocron.OneTimeJob(start)
	} else {
		def = gocron.CronJob(spec.Text, false)
	}
	opts := []gocron.JobOption{
		gocron.WithName(jobName(sc.ID)),
		gocron.WithTags(jobTag(sc.ID)),
		// One run of a schedule at a time per replica, in order: the locker hands the claimed slot
		// to the job, and a slot that comes while the previous run still runs waits for it.
		gocron.WithSingletonMode(gocron.LimitModeWait),
	}
	if !spec.OneTime {
		// gocron's own cron reads the fields as robfig/cron does; this one is the same parser with
		// the location set directly, so Next here and in List agree to the minute.
		opts = append(opts, gocron.WithCronImplementation(specCron{spec}))
	}
	if _, err := s.gs.NewJob(def, gocron.NewTask(s.runJob, e), opts...); err != nil {
		return nil, fmt.Errorf("gocron job: %w", err)
	}
	s.jobs[sc.ID] = e
	return e, nil
}

// unregister stops schedule id's gocron job, if any.
func (s *Scheduler) unregister(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.jobs[id]; !ok {
		return
	}
	delete(s.jobs, id)
	if s.gs != nil {
		s.gs.RemoveByTags(jobTag(id))
	}
}

// lookup returns the entry of schedule id.
func (s *Scheduler) lookup(id int64) (*entry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.jobs[id]
	return e, ok
}

// sync brings the registered jobs in step with the store: it loads schedules added elsewhere (or
// at start, all of them) and stops those removed.
func (s *Scheduler) sync(ctx context.Context) error {
	all, err := s.cfg.Store.AllSchedules(ctx)
	if err != nil {
		return fmt.Errorf("read schedules: %w", err)
	}
	seen := make(map[int64]bool, len(all))
	for _, sc := range all {
		seen[sc.ID] = true
		s.mu.Lock()
		_, known := s.jobs[sc.ID]
		settled := s.settled[sc.ID]
		s.mu.Unlock()
		if known || settled {
			continue
		}
		if err := s.load(ctx, sc); err != nil {
			s.log.Warn("load schedule", "schedule", sc.ID, "err", err)
		}
	}
	s.mu.Lock()
	var gone []int64
	for id := range s.jobs {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	for id := range s.settled {
		if !seen[id] {
			delete(s.settled, id)
		}
	}
	s.mu.Unlock()
	for _, id := range gone {
		s.unregister(id)
	}
	return nil
}

// load registers one stored schedule, first dealing with a run it missed while no replica ran:
// a slot less than lateGrace old runs now; an older one is reported as missed, once across
// replicas, and not run.
func (s *Scheduler) load(ctx context.Context, sc store.Schedule) error {
	loc := s.location(ctx, sc)
	spec, err := parseStored(sc.Spec, sc.OneTime, loc)
	if err != nil {
		s.settle(sc.ID)
		return fmt.Errorf("stored spec %q: %w", sc.Spec, err)
	}
	now := s.cfg.Now()
	due := sc.NextRun
	if sc.OneTime {
		due = spec.At
	}
	if due.IsZero() {
		due = spec.Next(now)
	}
	switch {
	case due.IsZero():
		// A cron expression that never fires again: nothing to register.
		return nil
	case !due.Before(now) || sc.OneTime && now.Sub(due) <= lateGrace:
		_, err := s.register(sc, spec)
		return err
	case now.Sub(due) <= lateGrace:
		e, err := s.register(sc, spec)
		if err != nil || e == nil {
			return err
		}
		s.runLate(ctx, e, due)
		return nil
	}
	s.reportMissed(ctx, sc, spec, due, now)
	if sc.OneTime {
		s.settle(sc.ID)
		return nil
	}
	_, err = s.register(sc, spec)
	return err
}

// runLate runs cron schedule e's slot due, which the bot (re)started just after, if no replica
// claimed it; gocron's timers only look ahead.
func (s *Scheduler) runLate(ctx context.Context, e *entry, due time.Time) {
	slot := due.Truncate(time.Minute)
	s.late.Add(1)
	go func() {
		defer s.late.Done()
		ctx = context.WithoutCancel(ctx)
		cctx, cancel := context.WithTimeout(ctx, reportTimeout)
		won, err := s.cfg.Store.ClaimRun(cctx, e.sched.ID, slot, s.cfg.ReplicaID)
		cancel()
		if err != nil {
			e.log.Warn("claim late run", "slot", slot, "err", err)
			return
		}
		if won {
			s.run(ctx, e, slot)
		}
	}()
}

// settle marks a schedule this replica must not load again.
func (s *Scheduler) settle(id int64) {
	s.mu.Lock()
	s.settled[id] = true
	s.mu.Unlock()
}

// specCron is a gocron.Cron over a parsed Spec.
type specCron struct{ spec Spec }

// IsValid accepts what ParseSpec accepted.
func (c specCron) IsValid(string, *time.Location, time.Time) error {
	if c.spec.cron == nil {
		return errors.New("no cron expression")
	}
	return nil
}

// Next returns the first slot after lastRun.
func (c specCron) Next(lastRun time.Time) time.Time { return c.spec.Next(lastRun) }
