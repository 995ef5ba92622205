package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/meetbot/meetbot/chat"
)

// ErrNotFound is wrapped by errors for a link, schedule or value that does not exist.
var ErrNotFound = errors.New("not found")

// ErrWrongKey is wrapped by errors for a PIN sealed under another MEETBOT_SECRET_KEY (or altered at
// rest): the link exists but its PIN cannot be read with the key the bot was started with.
var ErrWrongKey = errors.New("PIN sealed under another MEETBOT_SECRET_KEY")

// ErrUnavailable is wrapped by errors when the database cannot be reached (it is down, restarting
// or failing over): the operation did not happen and may succeed later.
var ErrUnavailable = errors.New("database unavailable")

// Store is everything meetbot keeps. Close releases the database; the Store must not be used after.
type Store interface {
	Links
	Resealer
	Settings
	Schedules
	Audit
	Leases
	Rosters
	KV
	Nonces
	Pruner
	Bots
	Attendance
	Close() error
}

// MeetingRef names one meeting: the platform's checkJoin server and the room number or alias.
type MeetingRef struct {
	APIServer string // base URL of the checkJoin server
	Room      string // room number or alias as the user linked it
}

// Key returns a stable string naming m, used for leases and saved rosters.
func (m MeetingRef) Key() string {
	return strings.TrimRight(m.APIServer, "/") + "#" + m.Room
}

// String returns m's key.
func (m MeetingRef) String() string { return m.Key() }

// Link ties one chat channel to one meeting. Several channels may link the same meeting; a channel
// links at most one.
type Link struct {
	Channel chat.ChannelRef
	Meeting MeetingRef
	Node    string      // mcuHost from checkJoin (bare host, host:port or URL)
	Name    string      // the conference name from checkJoin
	PIN     chat.Secret // the PIN the bot joins with; sealed at rest; may be empty
	Role    string      // HOST or GUEST: the role the PIN gives the bot
	Cloud   string      // public or private
	// CloudSetByUser is true when the user named the cloud kind instead of it being detected.
	CloudSetByUser bool
	CreatedBy      string    // user id of who linked
	CreatedAt      time.Time // set by PutLink when zero
	// Paused is true when the relay must not follow this link (a host removed the bot from the
	// meeting); PutLink always stores a link unpaused, so linking again resumes it.
	Paused       bool
	PausedReason string // why it was paused, for the channel; empty when not paused
}

// LogValue describes l for structured logs without its PIN: a handler that marshals the struct
// itself (slog's JSON handler) would otherwise print the PIN, since encoding/json ignores the
// redacting String method of chat.Secret.
func (l Link) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("channel", l.Channel.String()),
		slog.String("meeting", l.Meeting.Key()),
		slog.String("node", l.Node),
		slog.String("role", l.Role),
		slog.String("cloud", l.Cloud),
		slog.Bool("pin_set", l.PIN != ""),
		slog.Bool("paused", l.Paused),
	)
}

// Links stores channel ↔ meeting links.
type Links interface {
	// PutLink creates or replaces the link of l.Channel, unpaused whatever l.Paused says. A zero
	// CreatedAt is set to now.
	PutLink(ctx context.Context, l Link) error
	// GetLink returns the link of ch. If ch is not linked, the error wraps ErrNotFound; if its PIN
	// cannot be unsealed with this store's keys, the error wraps ErrWrongKey.
	GetLink(ctx context.Context, ch chat.ChannelRef) (Link, error)
	// DeleteLink removes the link of ch without reading its PIN, so a link sealed under another
	// key can be removed; if ch is not linked, the error wraps ErrNotFound.
	DeleteLink(ctx context.Context, ch chat.ChannelRef) error
	// LinksByMeeting returns every readable link to m, ordered by channel. If some links' PINs
	// cannot be unsealed, it returns the others and an *UnreadableLinksError naming them.
	LinksByMeeting(ctx context.Context, m MeetingRef) ([]Link, error)
	// AllLinks returns every readable link, ordered by meeting then channel. If some links' PINs
	// cannot be unsealed, it returns the others and an *UnreadableLinksError naming them.
	AllLinks(ctx context.Context) ([]Link, error)
	// PauseMeeting marks every link of m paused for reason (the relay stops following them until
	// a channel links again). A meeting without links is not an error: there is nothing to pause.
	PauseMeeting(ctx context.Context, m MeetingRef, reason string) error
}

// UnreadableLinksError is returned, beside the links that could be read, by AllLinks and
// LinksByMeeting when some links' PINs cannot be unsealed with the store's keys (sealed under a
// key it was not given, or altered). It wraps ErrWrongKey and never holds a PIN:
//
//	links, err := s.AllLinks(ctx)
//	var ue *store.UnreadableLinksError
//	if errors.As(err, &ue) { /* warn per ue.Channels, carry on with links */ }
type UnreadableLinksError struct {
	Channels []chat.ChannelRef // the channels whose links could not be read, in the listing's order
}

// Error names the channels whose links could not be read.
func (e *UnreadableLinksError) Error() string {
	names := make([]string, len(e.Channels))
	for i, ch := range e.Channels {
		names[i] = ch.String()
	}
	return fmt.Sprintf("links of %d channel(s) unreadable (%s): %v", len(e.Channels), strings.Join(names, ", "), ErrWrongKey)
}

// Unwrap returns ErrWrongKey.
func (e *UnreadableLinksError) Unwrap() error { return ErrWrongKey }

// Resealer moves links sealed under a previous key to the current one (key rotation).
type Resealer interface {
	// ResealLinks reseals, under the current key, every link whose PIN was sealed under one of the
	// previous keys the store was opened with, and returns how many it resealed. A link changed
	// meanwhile is left as its writer left it. Links no key can read are left alone and named by
	// an *UnreadableLinksError returned with the count.
	ResealLinks(ctx context.Context) (int, error)
}

// ChannelSettings is what a channel wants to hear about its meeting.
type ChannelSettings struct {
	Joins         bool   // post joins
	Leaves        bool   // post leaves
	Presentations bool   // post presentation starts and stops
	Chat          bool   // relay the meeting's chat
	Threaded      bool   // one status message with replies in its thread, where the service has threads
	TimeZone      string // IANA zone for schedules made here; empty = the bot's default
	Waiting       bool   // post waiting-room alerts (someone waits to be admitted, or for a host)
	Snapshots     bool   // post slide snapshots in the meeting's thread
	Report        bool   // post an attendance report when the meeting ends
}

// DefaultSettings returns the settings of a channel that never changed them: joins, leaves and
// presentations on, chat off, threaded on, waiting-room alerts on; slide snapshots and attendance
// reports off, since slides can be confidential and attendance is personal data.
func DefaultSettings() ChannelSettings {
	return ChannelSettings{Joins: true, Leaves: true, Presentations: true, Chat: false, Threaded: true, Waiting: true}
}

// Settings stores per-channel settings. They outlive links, so relinking keeps them.
type Settings interface {
	// GetSettings returns the settings of ch, or DefaultSettings when it has none.
	GetSettings(ctx context.Context, ch chat.ChannelRef) (ChannelSettings, error)
	// PutSettings replaces the settings of ch.
	PutSettings(ctx context.Context, ch chat.ChannelRef, s ChannelSettings) error
}

// Schedule is a command to run later in a channel on its author's behalf, once or repeatedly.
type Schedule struct {
	ID        int64 // assigned by AddSchedule
	Channel   chat.ChannelRef
	Spec      string // a cron expression, or the one time as the user wrote it
	TimeZone  string // IANA zone the spec is read in
	Command   string // the command text, e.g. "lock"
	CreatedBy chat.UserRef
	Rights    chat.Rights // the author's rights when scheduling
	OneTime   bool
	NextRun   time.Time // zero when unknown or done
	CreatedAt time.Time // set by AddSchedule when zero
}

// Schedules stores schedules and which runs of them have happened.
type Schedules interface {
	// AddSchedule stores s and returns it with its new ID (and CreatedAt when zero).
	AddSchedule(ctx context.Context, s Schedule) (Schedule, error)
	// DeleteSchedule removes schedule id of channel ch; if there is none, the error wraps
	// ErrNotFound, so one channel cannot remove another's schedule.
	DeleteSchedule(ctx context.Context, ch chat.ChannelRef, id int64) error
	// ListSchedules returns the schedules of ch, ordered by ID.
	ListSchedules(ctx context.Context, ch chat.ChannelRef) ([]Schedule, error)
	// AllSchedules returns every schedule, ordered by ID.
	AllSchedules(ctx context.Context) ([]Schedule, error)
	// SetNextRun records when schedule id runs next; if there is none, the error wraps ErrNotFound.
	SetNextRun(ctx context.Context, id int64, t time.Time) error
	// ClaimRun claims the run of schedule id at slot for owner. It returns true to exactly one
	// caller per (id, slot) across every replica sharing the database; the others get false. If
	// the schedule does not exist, it returns false and an error wrapping ErrNotFound.
	ClaimRun(ctx context.Context, id int64, slot time.Time, owner string) (bool, error)
}

// AuditEntry records one command a user ran and what came of it.
type AuditEntry struct {
	Time    time.Time // set by AppendAudit when zero
	Channel chat.ChannelRef
	User    chat.UserRef
	Command string // the command text as typed (commands never carry PINs in clear here)
	Outcome string // the reply's text or the error's reference
	OK      bool
}

// Audit is the log of who ran what.
type Audit interface {
	// AppendAudit adds e to the log.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// RecentAudit returns the latest n entries of ch, newest first. n <= 0 returns none.
	RecentAudit(ctx context.Context, ch chat.ChannelRef, n int) ([]AuditEntry, error)
}

// Leases says which replica owns which meeting's listener. A lease has at most one owner at a
// time; it lapses ttl after it was last claimed or renewed, judged by the database's clock.
type Leases interface {
	// ClaimLease takes key for owner for ttl and reports whether it did: true when the lease was
	// free, expired or already owner's (its expiry is then extended), false when another owner
	// holds it.
	ClaimLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error)
	// RenewLease extends owner's lease on key by ttl from now. False means owner no longer holds
	// it: another owner claimed it after it lapsed, or it was released.
	RenewLease(ctx context.Context, key, owner string, ttl time.Duration) (bool, error)
	// ReleaseLease gives up owner's lease on key; releasing a lease one does not hold does nothing.
	ReleaseLease(ctx context.Context, key, owner string) error
	// LeaseHolder returns who holds key and until when; owner is "" (and err nil) when the lease
	// is free or lapsed.
	LeaseHolder(ctx context.Context, key string) (owner string, until time.Time, err error)
}

// RosterEntry is one participant as last seen by a meeting's listener.
type RosterEntry struct {
	UUID       string `json:"uuid"`
	Name       string `json:"name"`
	Role       string `json:"role,omitempty"`
	Presenting bool   `json:"presenting,omitempty"`
	// Streaming marks a recording or live-stream participant, which is no person.
	Streaming bool `json:"streaming,omitempty"`
}

// Rosters keeps each meeting's last known roster, so a new listener (after a restart or on
// another replica) reports only the joins and leaves that really happened meanwhile.
type Rosters interface {
	// SaveRoster replaces the saved roster of meetingKey (a MeetingRef.Key).
	SaveRoster(ctx context.Context, meetingKey string, entries []RosterEntry) error
	// LoadRoster returns the saved roster of meetingKey in the order saved; nil when none was saved.
	LoadRoster(ctx context.Context, meetingKey string) ([]RosterEntry, error)
}

// Nonces remembers one-time keys (such as a Slack request's signature) for a while, so a replay is
// refused by every replica sharing the database.
type Nonces interface {
	// ClaimNonce reports whether this is the first claim of key within ttl: true exactly once per
	// key until ttl has passed (judged by the database's clock where it has one), false for every
	// other claim meanwhile, from any replica. Expired nonces are deleted lazily. key is opaque.
	ClaimNonce(ctx context.Context, key string, ttl time.Duration) (fresh bool, err error)
}

// PruneResult counts what Prune deleted.
type PruneResult struct {
	Audit        int64 // audit entries
	ScheduleRuns int64 // claimed schedule runs
	Nonces       int64 // expired nonces
}

// Pruner deletes history that is no longer needed, so the database does not grow forever.
type Pruner interface {
	// Prune deletes audit entries made before before, schedule runs claimed before before, and
	// every nonce that has expired.
	Prune(ctx context.Context, before time.Time) (PruneResult, error)
}

// Bots records the bot's own participants in each meeting, for every replica: a participant is
// the bot's because its uuid is here, never because of its name.
type Bots interface {
	// AddBotParticipant records uuid as the bot's participant in meetingKey (a MeetingRef.Key);
	// adding it again does nothing.
	AddBotParticipant(ctx context.Context, meetingKey, uuid string) error
	// RemoveBotParticipant forgets uuid in meetingKey; removing one not recorded does nothing.
	RemoveBotParticipant(ctx context.Context, meetingKey, uuid string) error
	// BotParticipants returns the uuids recorded in meetingKey, ordered; none is an empty result.
	BotParticipants(ctx context.Context, meetingKey string) ([]string, error)
}

// KV keeps small named values, such as the Matrix sync token.
type KV interface {
	// GetValue returns the value of key; if it was never put, the error wraps ErrNotFound.
	GetValue(ctx context.Context, key string) (string, error)
	// PutValue sets key to value.
	PutValue(ctx context.Context, key, value string) error
}

// AttendanceInterval is one stretch a participant was in one run of a meeting. Its fields match
// attendance.Interval, so one converts to the other.
type AttendanceInterval struct {
	UUID     string // the platform's participant uuid
	Name     string
	Role     string
	Protocol string
	Joined   time.Time
	Left     time.Time // zero while the participant is still in the meeting
}

// Attendance keeps who was in each occurrence (chat.MeetingState.Occurrence) of a meeting and
// when, so a restart or a takeover by another replica loses nothing and counts nothing twice.
// It is written on joins and leaves only.
type Attendance interface {
	// RecordJoin stores iv as an open interval of occurrence. Recording the same uuid and Joined
	// again (a listener that took over sees the same participant) changes only the name, role
	// and protocol, and never reopens an interval already closed.
	RecordJoin(ctx context.Context, meetingKey, occurrence string, iv AttendanceInterval) error
	// RecordLeave closes uuid's open intervals in occurrence at left; none open does nothing.
	RecordLeave(ctx context.Context, meetingKey, occurrence, uuid string, left time.Time) error
	// CloseAttendance closes every open interval of occurrence at left (the meeting ended, or a
	// listener taking over found those participants gone) and returns how many it closed.
	CloseAttendance(ctx context.Context, meetingKey, occurrence string, left time.Time) (int64, error)
	// AttendanceOf returns occurrence's intervals ordered by join time, then uuid; none is an
	// empty result.
	AttendanceOf(ctx context.Context, meetingKey, occurrence string) ([]AttendanceInterval, error)
	// LastOccurrence returns the occurrence of meetingKey with the latest join, "" when none.
	LastOccurrence(ctx context.Context, meetingKey string) (string, error)
}
