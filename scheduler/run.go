package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-co-op/gocron/v2"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// errSlotTaken tells gocron that another replica (or an earlier run here) claimed the slot.
var errSlotTaken = errors.New("slot already claimed")

// slotLocker is gocron's distributed locker, backed by the store's run claims. gocron calls Lock
// before each run with the job's name; Lock names the slot the run belongs to and claims
// (schedule, slot) in the store. Only the one replica whose claim succeeds runs the command.
//
// A lock held only while a job runs is not enough: if replica A's clock is a few seconds ahead, A
// runs the 09:00 slot, finishes and unlocks before replica B's clock reaches 09:00, and B then
// takes the free lock and runs the same slot again. A claim is kept for good and names the slot by
// the schedule's own time (09:00), not by the moment a replica happened to fire, so B's claim of
// 09:00 fails however far apart the clocks are.
type slotLocker struct{ s *Scheduler }

// Lock claims the slot of the run gocron is about to start.
func (l slotLocker) Lock(ctx context.Context, key string) (gocron.Lock, error) {
	id, ok := idFromJobName(key)
	if !ok {
		return nil, fmt.Errorf("lock %q: not a schedule", key)
	}
	e, ok := l.s.lookup(id)
	if !ok {
		return nil, fmt.Errorf("lock schedule %d: no longer registered", id)
	}
	slot := e.nextSlot(l.s.cfg.Now())
	won, err := l.s.cfg.Store.ClaimRun(ctx, id, slot, l.s.cfg.ReplicaID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			e.log.Info("schedule removed elsewhere; not run", "slot", slot)
		} else {
			e.log.Warn("claim run; this replica skips the slot", "slot", slot, "err", err)
		}
		return nil, fmt.Errorf("claim schedule %d at %s: %w", id, slot, err)
	}
	if !won {
		e.log.Debug("slot claimed by another replica", "slot", slot)
		return nil, errSlotTaken
	}
	e.mu.Lock()
	e.claimed = append(e.claimed, slot)
	e.mu.Unlock()
	return noLock{}, nil
}

// noLock is a claim: there is nothing to release, the slot stays claimed.
type noLock struct{}

// Unlock does nothing.
func (noLock) Unlock(context.Context) error { return nil }

// nextSlot names the slot of a run gocron starts at now.
func (e *entry) nextSlot(now time.Time) time.Time {
	return e.spec.slotAt(now.Add(slotTolerance))
}

// takeClaim returns the oldest slot Lock claimed and not yet run.
func (e *entry) takeClaim() (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.claimed) == 0 {
		return time.Time{}, false
	}
	slot := e.claimed[0]
	e.claimed = e.claimed[1:]
	return slot, true
}

// runJob is the gocron task of every schedule: it runs the slot slotLocker claimed.
func (s *Scheduler) runJob(ctx context.Context, e *entry) {
	defer func() {
		// gocron does not recover a task's panic; one schedule must not stop the bot.
		if p := recover(); p != nil {
			e.log.Error("scheduled run panicked", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	slot, ok := e.takeClaim()
	if !ok {
		e.log.Error("run started without a claimed slot; skipped")
		return
	}
	// A run in progress finishes even when the scheduler stops or the schedule is removed
	// meanwhile; run bounds each of its steps.
	s.run(context.WithoutCancel(ctx), e, slot)
}

// run runs schedule e's command for slot, posts and audits the outcome, then moves the schedule
// on: a one-time schedule is removed, a cron schedule records its next run.
//
// The command gets RunTimeout; posting, auditing and moving on get reportTimeout after it, so a
// command that used all its time still has its outcome told.
func (s *Scheduler) run(base context.Context, e *entry, slot time.Time) {
	sc := e.sched
	log := e.log.With("slot", slot)
	ctx, cancel := context.WithTimeout(base, s.cfg.RunTimeout)
	defer cancel()
	rights := sc.Rights
	var reply chat.Reply
	checked := true
	if s.cfg.Rights != nil {
		r, err := s.cfg.Rights.Rights(ctx, sc.Channel, sc.CreatedBy)
		if err != nil {
			log.Warn("check author's rights; not run", "user", sc.CreatedBy.ID, "err", err)
			reply = chat.Reply{Failed: true,
				Text: fmt.Sprintf("not run: could not check the rights of %s now", userName(sc.CreatedBy))}
			checked = false
		} else {
			rights = r
		}
	}
	if checked {
		reply = s.handle(ctx, log, chat.Request{
			Channel:   sc.Channel,
			User:      sc.CreatedBy,
			Rights:    rights,
			Text:      sc.Command,
			Scheduled: true,
		})
	}
	outcome := replyText(reply)
	failed := reply.Failed || reply.Confirm != nil
	var text string
	if failed {
		text = fmt.Sprintf("Scheduled #%d (%s) failed: %s", sc.ID, shortCommand(sc.Command), outcome)
	} else {
		text = fmt.Sprintf("Scheduled #%d (%s): %s", sc.ID, shortCommand(sc.Command), outcome)
	}
	log.Info("schedule ran", "replica", s.cfg.ReplicaID, "ok", !failed)
	cancel()
	ctx, cancel = context.WithTimeout(base, reportTimeout)
	defer cancel()
	s.post(ctx, log, sc.Channel, text)
	s.audit(ctx, log, store.AuditEntry{
		Time:    s.cfg.Now(),
		Channel: sc.Channel,
		User:    sc.CreatedBy,
		Command: fmt.Sprintf("scheduled #%d: %s", sc.ID, sc.Command),
		Outcome: outcome,
		OK:      !failed,
	})
	s.moveOn(ctx, log, e, slot)
}

// moveOn removes a one-time schedule after its run, or records a cron schedule's next run.
func (s *Scheduler) moveOn(ctx context.Context, log *slog.Logger, e *entry, after time.Time) {
	sc := e.sched
	if sc.OneTime {
		if err := s.cfg.Store.DeleteSchedule(ctx, sc.Channel, sc.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			log.Warn("remove one-time schedule after its run", "err", err)
		}
		s.unregister(sc.ID)
		return
	}
	if now := s.cfg.Now(); now.After(after) {
		after = now
	}
	next := e.spec.Next(after)
	if next.IsZero() {
		return
	}
	if err := s.cfg.Store.SetNextRun(ctx, sc.ID, next); err != nil && !errors.Is(err, store.ErrNotFound) {
		log.Warn("record next run", "err", err)
	}
}

// handle runs req through the core, turning a panic into a failed reply.
func (s *Scheduler) handle(ctx context.Context, log *slog.Logger, req chat.Request) (reply chat.Reply) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("scheduled command panicked", "panic", p, "stack", string(debug.Stack()))
			reply = chat.Reply{Text: "something went wrong", Failed: true}
		}
	}()
	return s.cfg.Handler.Handle(ctx, req)
}

// reportTimeout bounds posting, auditing and recording one run's outcome.
const reportTimeout = 15 * time.Second

// post posts text to ch as a schedule notification. A rate limit is waited out once (within
// ctx); other failures are logged, not retried, so a message is never posted twice.
func (s *Scheduler) post(ctx context.Context, log *slog.Logger, ch chat.ChannelRef, text string) {
	n := chat.Notification{Text: text, Kinds: []chat.NoticeKind{chat.ScheduleRan}}
	err := s.cfg.Poster.Post(ctx, ch, n)
	var rl *chat.RateLimitError
	if errors.As(err, &rl) {
		wait := min(rl.RetryAfter, 10*time.Second)
		if wait <= 0 {
			wait = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
			err = s.cfg.Poster.Post(ctx, ch, n)
		}
	}
	if err != nil {
		log.Warn("post schedule outcome", "err", err)
	}
}

// audit appends e to the audit log.
func (s *Scheduler) audit(ctx context.Context, log *slog.Logger, e store.AuditEntry) {
	if err := s.cfg.Store.AppendAudit(ctx, e); err != nil {
		log.Warn("audit schedule run", "err", err)
	}
}

// reportMissed tells sc's channel, once across replicas, that its run at due did not happen while
// no replica ran, and moves the schedule on without running it.
func (s *Scheduler) reportMissed(ctx context.Context, sc store.Schedule, spec Spec, due, now time.Time) {
	log := s.log.With("schedule", sc.ID, "channel", sc.Channel.String(), "due", due)
	slot := due.Truncate(time.Minute)
	won, err := s.cfg.Store.ClaimRun(ctx, sc.ID, slot, s.cfg.ReplicaID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			log.Warn("claim missed run", "err", err)
		}
		return
	}
	if !won {
		return // run, or reported, by another replica
	}
	loc := spec.Location
	when := func(t time.Time) string { return t.In(loc).Format(layoutDateTime) }
	var text, outcome string
	if sc.OneTime {
		outcome = fmt.Sprintf("missed: due %s (%s) while the bot was down; not run, removed", when(due), loc)
		text = fmt.Sprintf("Scheduled #%d (%s) did not run: it was due %s (%s) while the bot was down. It was not run late and is now removed.",
			sc.ID, shortCommand(sc.Command), when(due), loc)
	} else {
		missed := 0
		last := due
		for t := due; !t.IsZero() && !t.After(now) && missed < 1000; t = spec.Next(t) {
			missed++
			last = t
		}
		next := spec.Next(now)
		what := fmt.Sprintf("its run at %s (%s)", when(due), loc)
		if missed > 1 {
			more := ""
			if missed == 1000 {
				more = "+"
			}
			what = fmt.Sprintf("%d%s runs from %s to %s (%s)", missed, more, when(due), when(last), loc)
		}
		outcome = fmt.Sprintf("missed %s while the bot was down; not run", what)
		text = fmt.Sprintf("Scheduled #%d (%s) missed %s while the bot was down; missed runs are not run late. Next run: %s.",
			sc.ID, shortCommand(sc.Command), what, when(next))
	}
	log.Info("schedule missed a run while the bot was down")
	s.post(ctx, log, sc.Channel, text)
	s.audit(ctx, log, store.AuditEntry{
		Time: now, Channel: sc.Channel, User: sc.CreatedBy,
		Command: fmt.Sprintf("scheduled #%d: %s", sc.ID, sc.Command),
		Outcome: outcome, OK: false,
	})
	s.moveOn(ctx, log, &entry{sched: sc, spec: spec}, now)
}

// replyText renders a reply as the plain text of a notification: its text, then any table rows.
func replyText(r chat.Reply) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(r.Text))
	if r.Confirm != nil {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString("(it asks for a confirmation a schedule cannot give: " + r.Confirm.Prompt + ")")
	}
	if r.Table != nil {
		for _, row := range r.Table.Rows {
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			b.WriteString(strings.Join(row.Cells, " · "))
		}
	}
	if b.Len() == 0 {
		return "done"
	}
	return b.String()
}

// shortCommand shortens a command for a message's heading.
func shortCommand(cmd string) string {
	cmd = strings.Join(strings.Fields(cmd), " ")
	if r := []rune(cmd); len(r) > 60 {
		return string(r[:59]) + "…"
	}
	return cmd
}

// userName is how a message names u.
func userName(u chat.UserRef) string {
	if u.Name != "" {
		return u.Name
	}
	return u.ID
}
