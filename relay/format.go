package relay

import (
	"fmt"
	"strings"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// notice is one event a listener hands to each channel's outbox, before coalescing.
type notice struct {
	seq   int64             // the listener's sequence number; outboxes acknowledge by it
	kind  chat.NoticeKind   // Joined, Left, PresentationStarted, PresentationStopped, ChatMessage, MeetingEnded
	who   string            // participant uuid, or "" when the platform names no one (presentation_start)
	name  string            // display name (data: adapters escape it)
	role  string            // joins only: "host", "guest" or "waiting"
	text  string            // chat payload, or the summary of an ended meeting
	state chat.MeetingState // MeetingEnded only: the summary (others take the state at flush)
	at    time.Time         // when the listener saw the event
	// api: the participant came through the API, as the bot's own sessions do; such a join is
	// checked against the bot's participants again just before it is posted, since another
	// replica's session can join before it records its uuid.
	api bool
	// streamLeft: a recording or live stream left; posted only if no one stopped it on purpose
	// (the store still remembers it), checked just before posting.
	streamLeft bool
	// files: a snapshot's picture or a report's CSV and chart (kinds Snapshot and Report), with
	// text the line that goes with them.
	files []chat.File
}

// wanted reports whether a channel with settings s wants to hear about n.
func wanted(n notice, s store.ChannelSettings) bool {
	switch n.kind {
	case chat.Joined:
		return s.Joins
	case chat.Left:
		return s.Leaves
	case chat.PresentationStarted, chat.PresentationStopped:
		return s.Presentations
	case chat.ChatMessage:
		return s.Chat
	case chat.MeetingEnded, chat.MeetingChanged:
		return true
	case chat.Waiting:
		return s.Waiting
	case chat.Snapshot:
		return s.Snapshots
	case chat.Report:
		return s.Report
	}
	return false
}

// group is one line of a coalesced message: events of one kind, in order.
type group struct {
	kind    chat.NoticeKind
	notices []notice
}

// coalesce turns a batch of notices, in the order they happened, into one notification for a
// channel with settings s. It reports false when the channel wants none of them.
//
// Notices of one kind share a line ("Alice, Bob and 12 others joined"), lines in order of first
// appearance, except where that would reorder one person's events: Alice joining then leaving
// then joining again within one batch gives three lines, in that order. Chat messages and the end
// of the meeting always have a line each. Counts are exact and nothing is left out.
func coalesce(batch []notice, s store.ChannelSettings) (chat.Notification, bool) {
	var groups []group
	for _, n := range batch {
		if !wanted(n, s) {
			continue
		}
		groups = place(groups, n)
	}
	if len(groups) == 0 {
		return chat.Notification{}, false
	}
	lines := make([]string, 0, len(groups))
	var kinds []chat.NoticeKind
	var files []chat.File
	seen := map[chat.NoticeKind]bool{}
	for _, g := range groups {
		lines = append(lines, render(g))
		for _, n := range g.notices {
			if n.kind == chat.Snapshot {
				files = append(files, snapshotFiles(n, channelZone(s))...)
				continue
			}
			files = append(files, n.files...)
		}
		if !seen[g.kind] {
			seen[g.kind] = true
			kinds = append(kinds, g.kind)
		}
	}
	return chat.Notification{
		Text:     strings.Join(lines, "\n"),
		Kinds:    kinds,
		Meeting:  batch[len(batch)-1].state, // the meeting after the latest event
		Threaded: s.Threaded,
		// Slack keeps its own waiting-room alert from the state; it needs to know it is off.
		NoWaitingAlerts: !s.Waiting,
		Files:           files,
	}, true
}

// place adds n to the last group of its kind unless a later group mentions the same person (so
// moving n up would reorder that person's events) or n's kind always stands alone.
func place(groups []group, n notice) []group {
	if n.kind == chat.ChatMessage || n.kind == chat.MeetingEnded || n.kind == chat.MeetingChanged ||
		n.kind == chat.Waiting || n.kind == chat.Snapshot || n.kind == chat.Report {
		return append(groups, group{kind: n.kind, notices: []notice{n}})
	}
	for i := len(groups) - 1; i >= 0; i-- {
		if groups[i].kind == n.kind {
			groups[i].notices = append(groups[i].notices, n)
			return groups
		}
		if mentions(groups[i], n) {
			break
		}
	}
	return append(groups, group{kind: n.kind, notices: []notice{n}})
}

// mentions reports whether g holds an event about the same person as n: the same participant
// uuid, or, for presentations the platform reports by name only, the same name.
func mentions(g group, n notice) bool {
	for _, m := range g.notices {
		if n.who != "" && m.who != "" {
			if m.who == n.who {
				return true
			}
			continue
		}
		if m.name == n.name {
			return true
		}
	}
	return false
}

// render writes one line for g.
func render(g group) string {
	switch g.kind {
	case chat.ChatMessage:
		n := g.notices[0]
		return displayName(n.name) + ": " + chat.OneLine(n.text)
	case chat.MeetingEnded, chat.MeetingChanged, chat.Waiting, chat.Snapshot, chat.Report:
		return g.notices[0].text
	}
	var verb string
	switch g.kind {
	case chat.Joined:
		verb = "joined"
	case chat.Left:
		verb = "left"
	case chat.PresentationStarted:
		verb = "started presenting"
	case chat.PresentationStopped:
		verb = "stopped presenting"
	default:
		verb = string(g.kind)
	}
	if len(g.notices) == 1 && g.kind == chat.Joined && g.notices[0].role != "" {
		return displayName(g.notices[0].name) + " joined (" + g.notices[0].role + ")"
	}
	names := make([]string, len(g.notices))
	for i, n := range g.notices {
		names[i] = displayName(n.name)
	}
	return listNames(names) + " " + verb
}

// listNames writes "Alice", "Alice and Bob", "Alice, Bob and Carol", then "Alice, Bob and 12
// others": at most three names, and an exact count of the rest.
func listNames(names []string) string {
	switch len(names) {
	case 0:
		return "no one"
	case 1:
		return names[0]
	case 2:
		return names[0] + " and " + names[1]
	case 3:
		return names[0] + ", " + names[1] + " and " + names[2]
	}
	rest := len(names) - 2
	return fmt.Sprintf("%s, %s and %d others", names[0], names[1], rest)
}

// displayName stands in for a participant without a name.
func displayName(name string) string {
	name = chat.OneLine(name)
	if strings.TrimSpace(name) == "" {
		return "(no name)"
	}
	return name
}

// channelZone is the channel's time zone (store.ChannelSettings.TimeZone), UTC when it set none.
func channelZone(s store.ChannelSettings) *time.Location {
	if s.TimeZone != "" {
		if loc, err := time.LoadLocation(s.TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}
