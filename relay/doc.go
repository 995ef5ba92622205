// Package relay carries meeting events to chat channels: who joined, left, started or stopped
// presenting, optionally the meeting's chat, and a summary when the meeting ends.
//
// A [Listener] follows one linked meeting for every channel linked to it. It is a thin
// lifecycle: it owns the meeting's session, its event stream and one outbox per channel, and
// feeds each event to the meeting's tracker, a pure state machine (events and the time in; the
// notices and the meeting's state out: joins, leaves, presenters, peak, summary) that reads no
// clock and does no I/O. A [Supervisor] keeps listeners in step with the stored links and, when
// several replicas share a PostgreSQL store, makes sure each meeting is listened to by exactly one
// of them; a lease keeper of its own renews the leases.
//
// The bot's own participants are known by uuid only, never by name: each session's participant
// is recorded in the store when it is opened (store.AddBotParticipant, where the store has it)
// and removed when it is closed, so every replica knows every other's. A guest who calls
// themselves like the bot is announced and listed like anyone. A join through the API is checked
// against the store again just before it is posted, since another replica's new session can join
// before it is recorded.
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
// hundreds becomes a few messages. A text longer than the platform allows is split at line ends
// ([DefaultMessageLimits]: Slack 3,000 bytes, one section block; Matrix 16,000), a longer line
// shortened. Posting errors are told apart:
//
//   - [chat.RateLimitError]: wait RetryAfter, coalescing meanwhile;
//   - [chat.ErrChannelGone]: stop that channel only, dropping what was pending for it;
//   - [chat.ErrMessageRefused] (too large, blocked, invalid): post the message in two halves, or
//     shortened, and drop what is still refused, with one log line and
//     [Observer.NotificationDropped]; the channel goes on with the next message;
//   - anything else: retry with backoff capped at 30 s.
//
// The outbox never posts one event twice (a Poster that fails after the chat service accepted a
// message may cause the retry to repeat it; Posters must not retry by themselves).
//
// A slow or rate-limited channel holds up no other channel and no event stream: its notices wait
// in memory (tens of bytes each, at most 10,000 per channel: past that the oldest are dropped and
// counted) until it recovers, and they go out as coalesced messages. It does delay saving the
// meeting's roster (see below), which widens what a takeover can re-report for that meeting, never
// what it can lose; a channel that refuses for good or is gone does not.
//
// # When the bot is disconnected
//
// The platform's disconnect event says why, and the relay acts on it: after "Timer expired
// awaiting token refresh" the session starts over at once; after the meeting is ended ("Conference
// terminated by a Host participant", or everyone disconnected with the bot) the channels get the
// summary and the relay stays out of the room for RejoinAfterEnd (default 1 min, the lease kept),
// so it does not hold a just-ended meeting open; after a host removes the bot ("API initiated
// participant disconnect", "Disconnected by an administrator", or the bot alone disconnected) each
// channel is told "A host removed meetbot from <meeting>; `link` again to follow it." and the
// meeting's links are paused: no replica follows them until a channel links the meeting again.
//
// # Replicas and leases
//
// With several replicas on one PostgreSQL store, a listener runs only where its meeting's lease is
// held (key "relay:" + the meeting's key). The holder renews it every LeaseTTL/3 (default 10 s),
// in a loop that never waits for a session to open or close (those run in the background, each
// within OpenTimeout, default 30 s). Every post is fenced: an outbox posts only while its lease is
// known to be held until at least LeaseTTL/5 from now (judged from when the last renewal was
// sent), and the post's context ends then. So a replica that cannot renew (its database is
// unreachable, or it is paused) stops posting before the lease could lapse and another replica
// claim it: two replicas never post for one meeting at once (unless their clocks run at
// different rates). It keeps listening meanwhile; once a renewal succeeds it posts what waited,
// and if another replica holds the lease by then, it stops without posting. Every Resync
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
