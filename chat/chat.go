// Package chat holds the plain types shared by the command core, the meeting relay and the chat
// adapters: where a request came from, who sent it with what rights, what the bot answers, and
// what it posts when a meeting changes.
//
// It imports nothing of meetbot. Adapters mint ChannelRef and UserRef values; every other package
// treats them as opaque. All text in this package is plain text: display names in it are data, and
// each adapter escapes the whole text for its own format (mrkdwn, HTML, the terminal), so a
// participant named "<!channel>" or "@room" pings no one.
package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ChannelRef names one chat channel: a Slack channel in a workspace, a Matrix room, or the console.
// Its String form is the key the store keeps ("slack:T123/C456", "matrix:!room:server",
// "console:console").
type ChannelRef struct {
	Platform  string // "slack", "matrix", "console"
	Workspace string // Slack team id; empty elsewhere
	Channel   string // Slack channel id, Matrix room id, "console"
}

// String returns the stable textual form of c, which ParseChannelRef reads back.
func (c ChannelRef) String() string {
	if c.Workspace != "" {
		return c.Platform + ":" + c.Workspace + "/" + c.Channel
	}
	return c.Platform + ":" + c.Channel
}

// IsZero reports whether c names no channel.
func (c ChannelRef) IsZero() bool { return c == ChannelRef{} }

// ParseChannelRef reads the form String writes. Only Slack references carry a workspace, since
// Matrix room ids contain no slash but may contain colons.
func ParseChannelRef(s string) (ChannelRef, error) {
	platform, rest, ok := strings.Cut(s, ":")
	if !ok || platform == "" || rest == "" {
		return ChannelRef{}, fmt.Errorf("channel reference %q: want platform:channel", s)
	}
	if platform == "slack" {
		ws, ch, ok := strings.Cut(rest, "/")
		if !ok || ws == "" || ch == "" {
			return ChannelRef{}, fmt.Errorf("channel reference %q: want slack:TEAM/CHANNEL", s)
		}
		return ChannelRef{Platform: platform, Workspace: ws, Channel: ch}, nil
	}
	return ChannelRef{Platform: platform, Channel: rest}, nil
}

// UserRef names the person behind a request.
type UserRef struct {
	ID   string // Slack user id, Matrix user id, "console"
	Name string // how to call them in a message ("Alice")
}

// Rights is what a user may do in a channel, as the adapter knows it. The levels are ordered: each
// includes the ones below it, so a channel admin may also do what a host may.
type Rights int

const (
	Anyone Rights = iota // help
	Member               // status, who, say
	Host                 // commands that change the meeting
	Admin                // link, unlink, notify: the channel's own configuration
)

// String names r as help and refusals show it.
func (r Rights) String() string {
	switch r {
	case Anyone:
		return "anyone"
	case Member:
		return "member"
	case Host:
		return "host"
	case Admin:
		return "channel admin"
	}
	return fmt.Sprintf("Rights(%d)", int(r))
}

// Request is one command from a chat user, stripped of its prefix ("/meet ", "!meet ").
type Request struct {
	Channel ChannelRef
	User    UserRef
	Rights  Rights
	Text    string // "mute Bob"
	// Scheduled is set when the scheduler runs a stored command on the user's behalf.
	Scheduled bool
}

// Handler is what the command core offers adapters. Handle never returns an error: every failure is
// already a reply the user can read.
type Handler interface {
	Handle(ctx context.Context, req Request) Reply
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req Request) Reply

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req Request) Reply { return f(ctx, req) }

// Reply is the core's answer to one Request, in a neutral form each adapter renders its own way.
type Reply struct {
	// Text is the answer in plain text; it may span lines.
	Text string
	// Public replies are seen by the whole channel and attributed to the requester (a change to
	// the meeting: "muted Bob"). Other replies (errors, help, choices) go to the requester alone
	// where the chat service allows it. The zero value is private, so a forgotten flag leaks
	// nothing into the channel.
	Public bool
	// Table lists participants or schedules, with optional actions per row.
	Table *Table
	// Choices answer an ambiguous request: each is one command the user may run instead.
	Choices []Action
	// Confirm asks the user to confirm a dangerous command before it is run.
	Confirm *Confirm
	// Failed is set when the command did not do what was asked (bad input, refused, platform
	// down); adapters may style such replies differently.
	Failed bool
	// CarriedSecret is set when the request's text held a secret (a PIN, a stream key), whether
	// or not the command parsed or ran. Adapters whose rooms keep history (Matrix) remove the
	// request's message where they can, and otherwise tell its sender it stays visible.
	CarriedSecret bool
	// JoinURL is the meeting's web join page (from MEET_JOIN_URL), set on answers about one
	// meeting (status, the link confirmation): Slack shows a Join button, other adapters a link.
	// Empty when not configured. It never carries a PIN.
	JoinURL string
}

// Table is a small grid of plain-text cells.
type Table struct {
	Columns []string
	Rows    []Row
	// Details is how many of the last columns are details (when someone joined, over what): an
	// adapter shows them where there is room, as a wide terminal has, and leaves them out where
	// there is not.
	Details int
}

// Essential returns how many of the table's columns every adapter shows.
func (t *Table) Essential() int {
	return max(0, len(t.Columns)-max(0, t.Details))
}

// WithoutDetails returns t without its detail columns, for adapters with no room for them.
func (t *Table) WithoutDetails() *Table {
	if t.Details <= 0 {
		return t
	}
	n := t.Essential()
	out := &Table{Columns: t.Columns[:n:n], Rows: make([]Row, len(t.Rows))}
	for i, r := range t.Rows {
		out.Rows[i] = Row{Cells: r.Cells[:min(n, len(r.Cells)):min(n, len(r.Cells))], Actions: r.Actions}
	}
	return out
}

// Row is one line of a Table. Actions are offered to users with enough rights to run them.
type Row struct {
	Cells   []string
	Actions []Action
}

// Action is a command the user can run with one click (Slack buttons) or by typing it (elsewhere).
type Action struct {
	Label   string // "Mute", "Bob Smith (guest)"
	Command string // the full command text to run, e.g. "mute 3f2a1b9c"
	Danger  bool   // destructive: render in red, ask before running where the service can
}

// Confirm asks before a dangerous command runs. Running Command confirms; doing nothing cancels.
type Confirm struct {
	Prompt  string // "End the meeting for all 12 participants?"
	Command string // "end confirm"
	Label   string // "End meeting"
}

// Notification is what the relay posts to a channel when its meeting changes: one or more events,
// already coalesced into one plain-text message.
type Notification struct {
	// Text is the message, e.g. "Alice, Bob and 12 others joined".
	Text string
	// Kinds lists the kinds of event this message covers, in order of first appearance.
	Kinds []NoticeKind
	// Meeting is the meeting's state after these events, for adapters that keep a live status
	// message (Slack's "meeting in progress").
	Meeting MeetingState
	// Threaded asks for the channel's threaded style: status message plus replies in its thread.
	Threaded bool
	// NoWaitingAlerts is set when the channel turned waiting-room alerts off (`notify waiting
	// off`); the zero value keeps them on, the default.
	NoWaitingAlerts bool
	// Files are pictures and documents to post in the meeting's thread after Text (a slide
	// snapshot, an attendance report), in order. Text may be empty when there are files. An
	// adapter posts each file once; when a file is refused for good it returns an error wrapping
	// ErrMessageRefused, like a message.
	Files []File
}

// File is a picture or a document the relay posts in a meeting's thread.
type File struct {
	Name    string // file name to show and save as: "slide-2026-12-01-1403.jpg", "attendance.csv"
	MIME    string // "image/jpeg", "image/png", "text/csv"
	Data    []byte
	AltText string // what the picture shows, for screen readers and clients that show no pictures
	// Width and Height are a picture's size in pixels; zero for documents.
	Width, Height int
}

// NoticeKind is the kind of event a notification reports.
type NoticeKind string

// The kinds of notification.
const (
	Joined              NoticeKind = "joined"
	Left                NoticeKind = "left"
	PresentationStarted NoticeKind = "presentation_started"
	PresentationStopped NoticeKind = "presentation_stopped"
	ChatMessage         NoticeKind = "chat"
	MeetingChanged      NoticeKind = "meeting" // locked, guests muted, …
	MeetingEnded        NoticeKind = "ended"
	ScheduleRan         NoticeKind = "schedule"
	// Waiting: someone waits to be admitted (a locked meeting's waiting room, or a meeting that
	// waits for a host). Adapters that keep a waiting-room alert of their own (Slack) render it
	// from MeetingState.People and post no text for a notification of only this kind.
	Waiting NoticeKind = "waiting"
	// Snapshot: a picture of the slide being presented (Files holds it).
	Snapshot NoticeKind = "snapshot"
	// Report: the attendance report of a meeting (Files holds the CSV and the chart).
	Report NoticeKind = "report"
)

// MeetingState is a snapshot of a linked meeting for status displays.
type MeetingState struct {
	Name        string
	Room        string
	Present     []string // display names, in order of joining
	Presenter   string   // who presents now, or ""
	Locked      bool
	GuestsMuted bool
	Started     time.Time // first time the bot saw someone present
	Ended       bool      // everyone left or the meeting was disconnected
	Peak        int       // most people present at once
	Total       int       // distinct people seen
	Presenters  []string  // everyone who presented, in order

	// Occurrence is a stable id of this run of the meeting: the same for every notification from
	// the first join until it ends, different for the next run (Slack's calls.add
	// external_unique_id). Empty when the relay does not know it; adapters then show no call card.
	Occurrence string
	// People is everyone in the roster, room systems, phones and those in the waiting room
	// included, in order of joining. Present stays the display names of those in the meeting.
	People []Person
	// WaitingForHost is set while the meeting has not started (the platform's started: false):
	// everyone in it waits for a host.
	WaitingForHost bool
	// JoinURL is the meeting's web join page, expanded by the core from MEET_JOIN_URL (see
	// package joinurl); empty when that is not configured. It never carries a PIN.
	JoinURL string
	// RecordingSince and LiveSince are when the bot saw the recording and the live stream
	// connect; zero when there is none.
	RecordingSince, LiveSince time.Time
}

// Person is one participant as status displays show them.
type Person struct {
	UUID     string // the platform's participant id; the core's buttons name it as "id:<uuid>"
	Name     string // display name, plain text
	Role     string // "host" or "guest", as the core words it
	Protocol string // "webrtc", "sip", "h323", "rtmp", "api", … (room systems and phones too)
	// Waiting is set while they wait to be admitted (a locked meeting's waiting room).
	Waiting bool
	// Streaming is set for a streaming or recording participant (is_streaming_conference).
	Streaming bool
}

// Poster is what adapters offer the relay: post one notification to one channel.
//
// Post may block while the chat service is slow. If the service asks to slow down, Post returns a
// *RateLimitError and the relay waits, coalescing what arrives meanwhile into the next message, and
// posts again. Any other error is retried with backoff by the relay; Post must not retry itself
// in a way that could post the same message twice.
type Poster interface {
	Post(ctx context.Context, ch ChannelRef, n Notification) error
}

// RateLimitError tells the relay that the chat service refused a post and when to try again.
type RateLimitError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", e.RetryAfter, e.Err)
}

func (e *RateLimitError) Unwrap() error { return e.Err }

// ErrChannelGone tells the relay that the channel cannot be posted to any more (the bot was removed,
// the app uninstalled): it stops posting there and drops what was pending for that channel only.
var ErrChannelGone = errors.New("channel no longer reachable")

// ErrMessageRefused tells the relay that the chat service refused this one message for good (too
// large, blocked by a policy or a retention rule, malformed): posting it again would fail again,
// but the channel itself can still be posted to. Adapters wrap it (Slack msg_too_long,
// invalid_blocks, restricted_action*, ekm_access_denied; Matrix M_TOO_LARGE); the relay then
// splits or shortens what it can and otherwise drops that message with one log line.
var ErrMessageRefused = errors.New("message refused by the chat service")

// OneLine makes text from outside (a display name, a meeting chat line) one line of plain text:
// line breaks and tabs become spaces, other control characters and the invisible characters that
// reorder text become U+FFFD. The core and the relay put names through it wherever they compose
// a message, so a participant named "x\n:lock: Locked" cannot add a line of its own to a
// notification, a reply or a table, whatever the adapter.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t' || r == '\v' || r == '\f' || r == 0x85 || r == 0x2028 || r == 0x2029:
			return ' '
		case unicode.IsControl(r) || isBidiControl(r):
			return utf8.RuneError
		}
		return r
	}, s)
}

// isBidiControl reports the invisible characters that reorder the text around them.
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// Secret is a value that must never reach a log or a message: a PIN, a token. Its String and
// LogValue forms are redacted; Reveal returns the value itself.
type Secret string

// Reveal returns the secret value, for the one place that must send it.
func (s Secret) Reveal() string { return string(s) }

// String redacts s, so fmt and %v never print it.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts s for %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalText redacts s in JSON and every other text encoding, so a struct holding a secret can be
// logged with slog's JSON handler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue redacts s in structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// RightsResolver tells what a user may do in a channel now. Adapters implement it, so a scheduled
// command is checked against its author's rights when it runs, not only when it was scheduled.
type RightsResolver interface {
	Rights(ctx context.Context, ch ChannelRef, user UserRef) (Rights, error)
}

// PosterMux routes each notification to the Poster of its channel's platform.
type PosterMux map[string]Poster

// Post hands n to the Poster registered for ch.Platform.
func (m PosterMux) Post(ctx context.Context, ch ChannelRef, n Notification) error {
	p, ok := m[ch.Platform]
	if !ok {
		return fmt.Errorf("post to %s: no adapter for platform %q: %w", ch, ch.Platform, ErrChannelGone)
	}
	return p.Post(ctx, ch, n)
}
