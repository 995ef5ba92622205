// Package scheduler runs users' schedules — `schedule "0 9 * * 1-5" lock` — through the same
// command core as typed commands, on gocron v2.
//
// # Usage
//
// cmd/bot builds one Scheduler per process with New, passes it to the command core (it implements
// the core's Scheduler interface: Add, Remove, List) and runs Run until shutdown. The core parses
// `schedule "<spec>" <command>`, checks that the command parses and that the user may run it, and
// calls Add, whose *SpecError explains a refused spec in one line the user can read.
//
// A spec is a 5-field cron expression ("0 9 * * 1-5") or one moment ("2026-12-01 14:55",
// "2026-12-01T14:55", or "15:04" for the next time the clock shows it). Both are read in the
// channel's time zone (its setting, else SCHEDULE_TZ, else UTC), which is stored with the schedule:
// changing the channel's zone later does not move existing schedules. See ParseSpec.
//
// # Limits
//
// A schedule runs a command on someone's behalf with no one watching, so Add bounds what can be
// scheduled: at most Config.MaxPerChannel schedules per channel (SCHEDULE_MAX_PER_CHANNEL, 50),
// refused with a *LimitError, and no cron line whose runs come closer together than
// Config.MinInterval (SCHEDULE_MIN_INTERVAL, 5 minutes), refused with a *SpecError. The interval
// is judged by the shortest real-time gap over the spec's next runs (up to a thousand, within
// about a year), so "0,1 9 * * *" is refused though it fires only twice a day. Both messages are
// one line for the user.
//
// # Runs
//
// Each run sends the command as a chat.Request with Scheduled set, from the schedule's author,
// with the author's rights as the RightsResolver tells them at run time (the rights stored when
// scheduling only when no resolver is configured), so a host who lost host rights can no longer
// lock the meeting through an old schedule. The outcome is posted to the channel as a
// chat.Notification of kind chat.ScheduleRan ("Scheduled #3 (lock): locked the meeting") and
// written to the audit log. A one-time schedule is removed after its run; a cron schedule records
// its next run.
//
// # History
//
// With Config.Pruner set, Run deletes audit entries and the claims of schedule runs older than
// Config.Retention (AUDIT_RETENTION, 90 days) at start and then once a day, an hour later when the
// database was away. Every replica prunes; the deletes are the same work done twice, not a
// conflict. A claim older than the retention guards nothing any more: runs claim their current
// slot, and missed runs are judged by the stored next run.
//
// # Several replicas
//
// Every replica loads every schedule (gocron with an elector would skip jobs registered only on a
// non-leader) and reads the store again every Reload interval, so schedules added or removed on
// one replica reach the others within it. Each run happens once across replicas: gocron's
// distributed locker is backed by the store's ClaimRun, which grants each (schedule, slot) once.
// The slot is the schedule's own time, truncated to the minute — the latest time at or before
// the firing at which the spec fires — not the replica's clock reading, and the claim is kept for
// good rather than released when the run ends. A lock held only during the run would let a
// replica whose clock lags take the lock after a faster replica finished and run the same slot
// again; a claim on "schedule 3 at 09:00" is refused to the second replica however far apart the
// clocks are.
//
// # Missed runs
//
// A run whose slot passed while no replica was running is not run late: at start, a schedule
// whose stored next run is more than a minute in the past is reported as missed to its channel
// ("Scheduled #3 (lock) missed its run at 2026-11-26 09:00 (Europe/Berlin) while the bot was
// down …"), once across replicas (the report claims the slot as a run would), and written to the
// audit log. A cron schedule then moves on to its next slot; a missed one-time schedule is removed.
// A slot less than a minute old at start — a restart during the slot — still runs, once.
//
// # Concurrency
//
// A Scheduler is safe for concurrent use. Runs of different schedules proceed in parallel; runs
// of one schedule do not overlap on one replica (a slot that comes while the previous run still
// runs waits for it, then claims its own slot). Each run is bounded by RunTimeout and finishes
// even when Run's context ends, which waits for runs in progress before it returns.
package scheduler
