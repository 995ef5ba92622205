// Package relay carries meeting events to chat channels: who joined, left, started or stopped
// presenting, optionally the meeting's chat, and a summary when the meeting ends.
//
// A [Listener] follows one linked meeting for every channel linked to it. It owns the meeting's
// session and event stream, keeps the roster the command core resolves names against, and turns
// events into notifications for each channel according to that channel's settings. A
// [Supervisor] keeps listeners in step with the stored links and, when several replicas share a
// PostgreSQL store, makes sure each meeting is listened to by exactly one of them.
//
// # Usage
//
// Fill in a Supervisor and run it beside the chat adapters:
//
//	sup := &relay.Supervisor{Store: st, Client: client, Poster: posters, ReplicaID: id,
//		BotName: "meetbot", Logger: log, Observer: metrics}
//	go sup.Run(ctx) // resumes every stored link whose lease it can claim
//
// The Supervisor implements the command core's Meetings interface: after `link` stores a link,
// the core calls [Supervisor.Follow] with the session it opened, and the listener starts at once
// with that session; after `unlink`, [Supervisor.Unfollow]. [Supervisor.Session] and
// [Supervisor.Roster] serve every command, whether or not this replica listens to the meeting.
//
// What a channel sees:
//
//	Alice joined (guest)
//	Alice, Bob and 12 others joined
//	Carol left
//	Dan started presenting
//	The meeting ended after 42 min: 14 at most, 15 people in all; Dan presented
//
// Linking a meeting announces no one: a brand-new listener's first sync sets the baseline
// silently. Reconnects and restarts post real changes only: people who joined or left while no one
// listened are reported once, people who stayed are not. Display names are data: adapters escape
// them. Lock and mute changes are not posted (the command replies announce them); they update
// [chat.MeetingState], which every notification carries, taken when it is posted.
//
// # Concurrency
//
// Every exported method of Supervisor is safe for concurrent use. A listener handles its
// meeting's events one at a time, in stream order, and hands each notice to the outbox of every
// linked channel without blocking. Each channel's outbox is one goroutine posting through
// [chat.Poster]: one post at a time per channel, in event order; different channels post
// independently.
//
// # Backpressure
//
// An outbox posts an isolated event at once, then at most one message per Pace (default 1 s).
// What arrives meanwhile is coalesced into the next message with exact counts, so a join storm of
// hundreds becomes a few messages. When the chat service answers [chat.RateLimitError], the outbox
// waits RetryAfter and keeps coalescing; other errors are retried with backoff capped at 30 s;
// [chat.ErrChannelGone] stops that channel only, dropping what was pending for it. Nothing else is
// dropped, and the outbox never posts one event twice (a Poster that fails after the chat service
// accepted a message may cause the retry to repeat it; Posters must not retry by themselves).
//
// A slow or rate-limited channel holds up no other channel and no event stream: its notices wait
// in memory (tens of bytes each) until it recovers, and they go out as one coalesced message. It
// does delay saving the meeting's roster (see below), which widens what a takeover can re-report
// for that meeting, never what it can lose.
//
// # Replicas and leases
//
// With several replicas on one PostgreSQL store, a listener runs only where its meeting's lease is
// held (key "relay:" + the meeting's key). The holder renews it every LeaseTTL/3 (default 10 s);
// a replica that cannot renew for two thirds of LeaseTTL stops listening by itself, before the
// lease lapses, so two replicas never post for one meeting at once (unless their clocks run at
// different rates). Every Resync
// (default 3 s) each replica reloads the links, writes a heartbeat, counts the live replicas and
// claims free or lapsed leases up to its fair share (meetings ÷ replicas, rounded up); a replica
// holding more than one over its share hands one meeting per Resync to another, draining first,
// so nothing is missed. A meeting no one has claimed for three resyncs is taken by anyone.
//
// When a replica dies (even kill -9), its leases lapse after at most LeaseTTL and its heartbeat
// stops counting at the same time; another replica claims its meetings at its next resync, so
// the takeover happens within LeaseTTL + Resync (13 s with the defaults). The new listener
// restores the saved roster and reports the difference with the meeting as it is then: joins and
// leaves that happened in the gap, once, and no one who stayed. A graceful shutdown posts what is
// pending (within DrainTimeout), saves each roster, hands the leases back and removes itself from
// the heartbeat list, so another replica takes over at its next resync with nothing repeated and
// nothing missed: a rolling restart moves meetings without a gap. Every session is ended
// (end_session) on shutdown.
//
// # What a takeover can repeat
//
// A listener saves its meeting's roster every SaveInterval (default 250 ms), but only the newest
// roster whose notices every linked channel has already posted (or left out by its settings). So
// a crash never loses a change: whatever was seen but not yet posted is missing from the saved
// roster, and the next listener reports it. What can repeat are the notices posted after the last
// save: in the steady state, the changes of the last SaveInterval plus one post's round trip
// before the crash; for a channel that was rate limited or slow, everything it posted since the
// roster was last saved. Meeting chat is not replayed: messages sent while no replica listens are
// not relayed. Between takeovers each event is posted exactly once, by the one lease holder.
//
// # Commands on any replica
//
// A command works on every replica. Where the replica listens to the meeting, Session returns the
// listener's own session and Roster its live roster, at no cost. Elsewhere Session returns a
// pooled session opened on demand with the link's PIN (one new_session, kept until IdleSession,
// default 5 min, unused) and Roster makes one participants request through it: one round trip to
// the platform per command that resolves a name, plus a new_session the first time. Pooled sessions
// are hidden from the participant list and keyed by meeting and PIN, so a channel linked with a
// guest PIN never borrows a host's session.
package relay
