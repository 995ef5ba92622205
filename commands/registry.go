package commands

import (
	"context"
	"slices"
	"strings"

	"github.com/meetbot/meetbot/chat"
)

// support says how a node kind handles a command.
type support int

const (
	supported   support = iota // the command works
	unsupported                // refused before any call: the node lacks the feature
	noEffect                   // refused before any call: the node accepts it but does nothing
	confirmOnly                // works, but differently: warn and ask to confirm first
)

// nodeRule is what a command does on a private-cloud node (public nodes support everything). It is
// one column of the registry, applied by the dispatcher before the handler runs.
type nodeRule struct {
	support support
	// what the node lacks, for unsupported: "This meeting runs on a private-cloud node, which does
	// not support <what>."; the warning itself for confirmOnly.
	what string
	// protocols, when set, are the only dial protocols the node accepts.
	protocols []string
}

// handlerFunc runs one parsed command. It returns the reply, or an error the dispatcher turns into
// one (see errors.go).
type handlerFunc func(r *Router, ctx context.Context, c *call) (chat.Reply, error)

// command is one entry of the registry: everything the parser, help, rights checks, node rules,
// audit and scheduler need to know about a command, and its handler.
type command struct {
	name     string
	aliases  []string
	section  string
	usage    []string // forms, each starting with the name: "mute <name>", "mute guests"
	summary  string   // one line for help
	help     string   // long help: what it does, in sentences
	examples []string
	rights   chat.Rights
	minArgs  int
	maxArgs  int // -1: no limit (the rest of the text, as in say)

	needsLink bool // the channel must be linked; the link is loaded before the handler runs
	// sealedOK lets the handler run on a link whose PIN cannot be unsealed (sealed under another
	// key), with call.sealed set and no link loaded: unlink, since deleting never unseals.
	sealedOK    bool
	changes     bool     // changes the meeting or the channel's configuration: audited
	schedulable bool     // may be run by the scheduler
	confirm     bool     // asks to confirm before it runs (end)
	nameArg     int      // index of the <name> argument, or -1
	groups      []string // keywords standing for several participants where allowed (guests, all)
	// capability is what the participant <name> must allow (capabilities.go); checked after
	// resolving the name, before any call.
	capability capability
	private    nodeRule
	// secrets returns the indexes of the arguments that could be a secret (a PIN) by the
	// command's grammar, however they were ordered; audit, logs and replies show them as ****, and
	// the reply says the request carried a secret (secrets.go).
	secrets func(g *registry, args []Token) secretWords
	run     handlerFunc
}

// sections orders help.
var sections = []string{"Meeting", "People", "Channel", "Schedules", "Help"}

// registry is the command table with its lookup index. It is built once by newRegistry and only
// read afterwards, so it is safe for concurrent use.
type registry struct {
	commands []*command
	byWord   map[string]*command // names and aliases
}

// lookup returns the command a word names, in any case or width.
func (g *registry) lookup(word string) (*command, bool) {
	c, ok := g.byWord[keyword(word)]
	return c, ok
}

// nearest returns the command name or alias closest to word by edit distance, or "" when none is
// near enough to be a likely typo.
func (g *registry) nearest(word string) string {
	w := []rune(keyword(word))
	best, bestD := "", len(w)/2+2
	for _, c := range g.commands {
		for _, n := range append([]string{c.name}, c.aliases...) {
			if d := editDistance(w, []rune(n)); d < bestD {
				best, bestD = c.name, d
			}
		}
	}
	if len(w) > 0 && best == "" {
		for _, c := range g.commands {
			if strings.HasPrefix(c.name, string(w)) {
				return c.name
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isCloudWord(w string) bool {
	k := keyword(w)
	return k == "private" || k == "public"
}

// newRegistry builds the command table. Adding a command is one entry here plus its handler.
func newRegistry() *registry {
	onPrivate := func(what string) nodeRule { return nodeRule{support: unsupported, what: what} }
	cmds := []*command{
		{
			name: "link", section: "Channel", rights: chat.Admin, minArgs: 1, maxArgs: 3, nameArg: -1,
			usage:   []string{"link <room> [pin] [private|public]"},
			summary: "link this channel to a meeting room",
			help: "Checks the room and PIN with the platform, joins the meeting as the bot, and from then on " +
				"posts who joins, leaves and presents here. The PIN decides the bot's role: give the host PIN " +
				"so host commands work. The PIN is stored sealed and never shown. Add private or public to " +
				"say what kind of node the meeting runs on when detection gets it wrong.",
			examples: []string{"link 1061 123456", "link team@example.com", "link 1061 123456 private"},
			changes:  true, secrets: linkSecrets, run: (*Router).link,
		},
		{
			name: "unlink", section: "Channel", rights: chat.Admin, nameArg: -1,
			usage:     []string{"unlink"},
			summary:   "stop following the linked meeting",
			help:      "Stops posting the meeting's events here and ends the bot's session in the meeting. The meeting itself goes on.",
			examples:  []string{"unlink"},
			needsLink: true, sealedOK: true, changes: true, run: (*Router).unlink,
		},
		{
			name: "status", section: "Meeting", rights: chat.Member, nameArg: -1,
			usage:     []string{"status"},
			summary:   "show the meeting's state",
			help:      "Shows the meeting's name, how many people are present, who presents, and whether it is locked or guests are muted.",
			examples:  []string{"status"},
			needsLink: true, schedulable: true, run: (*Router).status,
		},
		{
			name: "who", aliases: []string{"list"}, section: "Meeting", rights: chat.Member, nameArg: -1,
			usage:     []string{"who"},
			summary:   "list the participants",
			help:      "Lists everyone in the meeting with their role, whether their audio is muted, whether they present, and whether they wait to be admitted or are being called. Hosts get buttons to mute, unmute, kick and admit.",
			examples:  []string{"who", "list"},
			needsLink: true, schedulable: true, run: (*Router).who,
		},
		{
			name: "mute", section: "People", rights: chat.Host, minArgs: 1, maxArgs: 1, nameArg: 0,
			usage:   []string{"mute <name>", "mute guests"},
			summary: "mute a participant's audio, or every guest",
			help: "Mutes one participant's audio, or with guests every guest at once (hosts keep talking). " +
				"A name may be the display name, any unique part of it, or the start of the participant's id. " +
				"Quote a name that is itself a command word: mute \"guests\".",
			examples: []string{"mute Bob", "mute Alice Zhang", "mute 张", "mute guests"},
			groups:   []string{"guests"},
			private: nodeRule{support: confirmOnly, what: "mute silences everyone but the chair and the " +
				"current speaker, and everyone who joins later."},
			needsLink: true, changes: true, schedulable: true, capability: canMute, run: (*Router).mute,
		},
		{
			name: "unmute", section: "People", rights: chat.Host, minArgs: 1, maxArgs: 1, nameArg: 0,
			usage:     []string{"unmute <name>", "unmute guests"},
			summary:   "unmute a participant's audio, or every guest",
			help:      "Unmutes one participant's audio, or with guests every guest at once.",
			examples:  []string{"unmute Bob", "unmute guests"},
			groups:    []string{"guests"},
			needsLink: true, changes: true, schedulable: true, capability: canMute, run: (*Router).unmute,
		},
		{
			name: "vmute", section: "People", rights: chat.Host, minArgs: 1, maxArgs: 1, nameArg: 0,
			usage:     []string{"vmute <name>"},
			summary:   "stop a participant's video",
			help:      "Stops one participant's video; they stay in the meeting with audio.",
			examples:  []string{"vmute Bob"},
			needsLink: true, changes: true, schedulable: true, run: (*Router).vmute,
		},
		{
			name: "unvmute", section: "People", rights: chat.Host, minArgs: 1, maxArgs: 1, nameArg: 0,
			usage:     []string{"unvmute <name>"},
			summary:   "allow a participant's video again",
			help:      "Allows one participant's video again after vmute.",
			examples:  []string{"unvmute Bob"},
			needsLink: true, changes: true, schedulable: true, run: (*Router).unvmute,
		},
		{
			name: "kick", section: "People", rights: chat.Host, minArgs: 1, maxArgs: 1, nameArg: 0,
			usage:     []string{"kick <name>"},
			summary:   "disconnect a participant",
			help:      "Disconnects one participant from the meeting. They can join again unless the meeting is locked.",
			examples:  []string{"kick Bob", `kick "Alice Zhang"`},
			needsLink: true, changes: true, schedulable: true, capability: canDisconnect, run: (*Router).kick,
		},
		{
			name: "end", section: "Meeting", rights: chat.Host, maxArgs: 1, nameArg: -1,
			usage:    []string{"end"},
			summary:  "disconnect everyone (asks to confirm)",
			help:     "Disconnects every participant, which ends the meeting. Asks to confirm first; end confirm runs it at once.",
			examples: []string{"end", "end confirm"},
			confirm:  true, needsLink: true, changes: true, schedulable: true, run: (*Router).end,
		},
		{
			name: "lock", section: "Meeting", rights: chat.Host, nameArg: -1,
			usage:     []string{"lock"},
			summary:   "lock the meeting",
			help:      "Locks the meeting: guests who join from now on wait until a host admits them.",
			examples:  []string{"lock"},
			needsLink: true, changes: true, schedulable: true, run: (*Router).lock,
		},
		{
			name: "unlock", section: "Meeting", rights: chat.Host, nameArg: -1,
			usage:     []string{"unlock"},
			summary:   "unlock the meeting",
			help:      "Unlocks the meeting: guests join without waiting.",
			examples:  []string{"unlock"},
			needsLink: true, changes: true, schedulable: true, run: (*Router).unlock,
		},
		{
			name: "admit", section: "People", rights: chat.Host, minArgs: 1, maxArgs: 1, nameArg: 0,
			usage:     []string{"admit <name>", "admit all"},
			summary:   "let a waiting guest in, or everyone waiting",
			help:      "Lets a guest who waits in the locked meeting's waiting room in, or with all everyone waiting.",
			examples:  []string{"admit Carol", "admit all"},
			groups:    []string{"all"},
			private:   onPrivate("admitting waiting guests"),
			needsLink: true, changes: true, schedulable: true, run: (*Router).admit,
		},
		{
			name: "start", section: "Meeting", rights: chat.Host, nameArg: -1,
			usage:     []string{"start"},
			summary:   "start the meeting and admit everyone waiting",
			help:      "Starts the meeting for guests who wait for a host, and admits everyone waiting.",
			examples:  []string{"start"},
			private:   nodeRule{support: noEffect, what: "start"},
			needsLink: true, changes: true, schedulable: true, run: (*Router).start,
		},
		{
			name: "dial", section: "Meeting", rights: chat.Host, minArgs: 1, maxArgs: -1, nameArg: -1,
			usage:   []string{"dial <destination> [sip|h323|rtmp|mssip|phone|auto] [as guest|chair] [name <display>]"},
			summary: "call an endpoint, user or phone into the meeting",
			help: "Calls a destination into the meeting. A destination that names its protocol (sip:…, " +
				"h323:…, rtmp://…, tel:… or a number starting with +) is dialled over it; otherwise the " +
				"protocol defaults to auto (the platform's own endpoints and users). The role defaults to " +
				"guest; name sets how the callee appears in the participant list. The callee shows as " +
				"connecting until it answers, and is dropped after 30 seconds without an answer.",
			examples:  []string{"dial bob@example.com sip", "dial 10.0.0.5 h323 as chair", "dial 1062 auto name \"Room B\""},
			private:   nodeRule{protocols: []string{"sip", "h323"}},
			secrets:   dialSecrets,
			needsLink: true, changes: true, schedulable: true, run: (*Router).dial,
		},
		{
			name: "record", section: "Meeting", rights: chat.Host, minArgs: 1, maxArgs: 1, nameArg: -1,
			usage:   []string{"record start", "record stop"},
			summary: "record the meeting on the operator's recorder",
			help: "Starts or stops recording: the bot calls the operator's recorder into the meeting as a " +
				"streaming participant named Recording, and the channel hears when it is connected and when " +
				"it stops. The room's account must allow recording, and the operator must have set " +
				"MEET_RECORDER_URL. Works from any replica and after a restart.",
			examples:  []string{"record start", "record stop", `schedule "0 9 * * 1" record start`},
			private:   onPrivate("recording"),
			needsLink: true, changes: true, schedulable: true, run: (*Router).record,
		},
		{
			name: "live", section: "Meeting", rights: chat.Host, minArgs: 1, maxArgs: 4, nameArg: -1,
			usage:   []string{"live start <rtmp-url> [presentation <rtmp-url>]", "live stop"},
			summary: "stream the meeting live to an RTMP server",
			help: "Streams the meeting live to an RTMP server (YouTube, Bilibili, your own), with the " +
				"presentation to a second URL if you give one. The URL carries the stream key, so it is " +
				"never shown, logged or kept: replies show rtmp://host/app/****. The room's account must " +
				"allow live streaming.",
			examples:  []string{"live start rtmp://a.rtmp.youtube.com/live2/<key>", "live stop"},
			private:   onPrivate("live streaming"),
			secrets:   liveSecrets,
			needsLink: true, changes: true, run: (*Router).live,
		},
		{
			name: "spotlight", section: "People", rights: chat.Host, minArgs: 1, maxArgs: 1, nameArg: 0,
			usage:     []string{"spotlight <name>"},
			summary:   "pin a participant in the layout",
			help:      "Pins one participant in the layout: the first spotlighted takes the main place, the next the place after it.",
			examples:  []string{"spotlight Alice"},
			private:   onPrivate("spotlight"),
			needsLink: true, changes: true, schedulable: true, run: (*Router).spotlight,
		},
		{
			name: "unspotlight", section: "People", rights: chat.Host, minArgs: 1, maxArgs: 1, nameArg: 0,
			usage:     []string{"unspotlight <name>"},
			summary:   "unpin a participant",
			help:      "Unpins a participant pinned with spotlight.",
			examples:  []string{"unspotlight Alice"},
			private:   onPrivate("spotlight"),
			needsLink: true, changes: true, schedulable: true, run: (*Router).unspotlight,
		},
		{
			name: "layout", section: "Meeting", rights: chat.Host, minArgs: 1, maxArgs: 2, nameArg: -1,
			usage:   []string{"layout <1:0|4:0|1:7|1:21|2:21> [hosts|guests]"},
			summary: "set the video layout",
			help: "Sets the video layout for everyone, or only for hosts or only for guests: 1:0 the speaker " +
				"alone, 4:0 four equal tiles, 1:7 the speaker and up to 7 others, 1:21 the speaker and up to " +
				"21, 2:21 two large and up to 21 small.",
			examples:  []string{"layout 1:7", "layout 2:21 hosts"},
			private:   onPrivate("layouts"),
			needsLink: true, changes: true, schedulable: true, run: (*Router).layout,
		},
		{
			name: "say", section: "Meeting", rights: chat.Member, minArgs: 1, maxArgs: -1, nameArg: -1,
			usage:     []string{"say <text>"},
			summary:   "send a chat message to the meeting",
			help:      "Sends a text message to everyone in the meeting's chat, signed with your name.",
			examples:  []string{"say We start in five minutes"},
			needsLink: true, changes: true, schedulable: true, run: (*Router).say,
		},
		{
			name: "dtmf", section: "People", rights: chat.Host, minArgs: 2, maxArgs: 2, nameArg: 0,
			usage:     []string{"dtmf <name> <digits>"},
			summary:   "send touch-tones to a participant",
			help:      "Sends DTMF digits (0-9, *, #, A-D) to a participant, for example a dialled-in phone bridge.",
			examples:  []string{"dtmf Bridge 1234#"},
			needsLink: true, changes: true, schedulable: true, run: (*Router).dtmf,
		},
		{
			name: "role", section: "People", rights: chat.Host, minArgs: 2, maxArgs: 2, nameArg: 0,
			usage:     []string{"role <name> chair|guest"},
			summary:   "make a participant a host (chair) or a guest",
			help:      "Changes a participant's role: chair makes them a host, guest takes host rights away.",
			examples:  []string{"role Alice chair", "role Bob guest"},
			private:   onPrivate("changing roles"),
			needsLink: true, changes: true, schedulable: true, run: (*Router).role,
		},
		{
			name: "transfer", section: "People", rights: chat.Host, minArgs: 2, maxArgs: 5, nameArg: 0,
			usage:     []string{"transfer <name> <room> [pin] [as chair|guest]"},
			summary:   "move a participant to another room",
			help:      "Moves a participant to another room, with that room's PIN when it has one, as a guest unless you say as chair. The PIN is never shown.",
			examples:  []string{"transfer Bob 1062", "transfer Bob 1062 4321 as chair"},
			private:   onPrivate("transfers"),
			secrets:   transferSecrets,
			needsLink: true, changes: true, capability: canTransfer, run: (*Router).transfer,
		},
		{
			name: "presentation", section: "People", rights: chat.Host, minArgs: 2, maxArgs: 2, nameArg: 1,
			usage:     []string{"presentation allow|deny <name>"},
			summary:   "let a participant receive the presentation, or not",
			help:      "Allows or denies one participant receiving the presentation stream (allowed by default).",
			examples:  []string{"presentation deny Bob", "presentation allow Bob"},
			needsLink: true, changes: true, schedulable: true, run: (*Router).presentation,
		},
		{
			name: "delay", section: "People", rights: chat.Host, minArgs: 2, maxArgs: 2, nameArg: 1,
			usage:     []string{"delay cancel|resume <name>"},
			summary:   "cancel or resume a participant's delay",
			help:      "Cancels or resumes the delay of one participant's media.",
			examples:  []string{"delay cancel Bob", "delay resume Bob"},
			needsLink: true, changes: true, schedulable: true, run: (*Router).delay,
		},
		{
			name: "schedule", section: "Schedules", rights: chat.Host, minArgs: 2, maxArgs: -1, nameArg: -1,
			usage:   []string{`schedule "<cron or time>" <command>`},
			summary: "run a command later, once or repeatedly",
			help: "Runs a command on your behalf later: a cron line (minute hour day month weekday) repeats it, " +
				"a time such as 2026-03-02 09:00 runs it once. Times are read in the channel's time zone " +
				"(see timezone). The command is checked now, and your rights again when it runs. " +
				"A channel may hold only so many schedules, and a repeating one may not run more often " +
				"than the bot allows (every 5 minutes unless set otherwise); the bot says so when one does.",
			examples: []string{`schedule "0 9 * * 1-5" unlock`, `schedule "2026-03-02 17:00" end confirm`},
			changes:  true, secrets: scheduleSecrets, run: (*Router).schedule,
		},
		{
			name: "schedules", section: "Schedules", rights: chat.Host, nameArg: -1,
			usage:    []string{"schedules"},
			summary:  "list this channel's schedules",
			help:     "Lists the commands scheduled in this channel, with their ids and next runs.",
			examples: []string{"schedules"},
			run:      (*Router).schedules,
		},
		{
			name: "unschedule", section: "Schedules", rights: chat.Host, minArgs: 1, maxArgs: 1, nameArg: -1,
			usage:    []string{"unschedule <id>"},
			summary:  "remove a schedule",
			help:     "Removes the schedule with that id (see schedules).",
			examples: []string{"unschedule 3"},
			changes:  true, run: (*Router).unschedule,
		},
		{
			name: "notify", section: "Channel", rights: chat.Admin, maxArgs: 2, nameArg: -1,
			usage:   []string{"notify", "notify joins|leaves|presentations|chat|thread|waiting|snapshots|report on|off"},
			summary: "choose what the meeting posts here",
			help: "Alone, shows what this channel hears about its meeting. joins, leaves and presentations " +
				"are on by default, chat (the meeting's chat messages) is off; thread (on by default) keeps " +
				"one status message with the events in its thread where the chat service has threads; waiting " +
				"(on by default) says when someone waits to be admitted or people wait for a host. " +
				"snapshots (off by default: slides can be confidential) posts a picture of the shared slides " +
				"when they change; report (off by default: it is personal data) posts who attended, as a CSV " +
				"and a chart, when the meeting ends.",
			examples: []string{"notify", "notify chat on", "notify leaves off", "notify waiting off", "notify snapshots on", "notify report on"},
			changes:  true, run: (*Router).notify,
		},
		{
			name: "timezone", section: "Channel", rights: chat.Admin, maxArgs: 1, nameArg: -1,
			usage:    []string{"timezone [<IANA zone>]"},
			summary:  "set the time zone schedules are read in",
			help:     "Sets the time zone this channel's new schedules are read in, as an IANA name. Alone, shows the current one.",
			examples: []string{"timezone Europe/Berlin", "timezone Asia/Shanghai", "timezone"},
			changes:  true, run: (*Router).timezone,
		},
		{
			name: "audit", section: "Channel", rights: chat.Admin, maxArgs: 1, nameArg: -1,
			usage:    []string{"audit [n]"},
			summary:  "show recent commands and their outcomes",
			help:     "Lists the latest commands run in this channel that changed the meeting or the channel, newest first (10 unless you give a number, at most 100).",
			examples: []string{"audit", "audit 50"},
			run:      (*Router).audit,
		},
		{
			name: "help", section: "Help", rights: chat.Anyone, maxArgs: 1, nameArg: -1,
			usage:    []string{"help [command]"},
			summary:  "list the commands, or explain one",
			help:     "Lists every command, or explains one with examples.",
			examples: []string{"help", "help mute"},
			run:      (*Router).help,
		},
	}
	g := &registry{commands: cmds, byWord: make(map[string]*command)}
	for _, c := range cmds {
		for _, w := range append([]string{c.name}, c.aliases...) {
			if _, dup := g.byWord[w]; dup {
				panic("commands: duplicate command word " + w) // a programming error in the table
			}
			g.byWord[w] = c
		}
		if !slices.Contains(sections, c.section) {
			panic("commands: unknown section " + c.section)
		}
	}
	return g
}
