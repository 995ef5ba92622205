// Package commands is the command core every chat adapter shares: one registry of commands, the
// tokenizer, help generated from the registry, participant-name resolution, rights checks, node
// support, the audit log, and the calls into the meeting platform.
//
// # Usage
//
// cmd/bot builds one Router and hands it to every adapter as their chat.Handler:
//
//	r := commands.New(commands.Config{Store: st, Client: client, Meetings: supervisor,
//		Scheduler: sched, BotName: "meetbot", Logger: logger})
//	reply := r.Handle(ctx, chat.Request{Channel: ch, User: u, Rights: chat.Host, Text: `mute "Alice Zhang"`})
//
// A request is platform-neutral text ("mute Bob"); the reply is neutral too: text, and optionally
// a table of participants with row actions, choices for an ambiguous name, or a confirmation. Every
// action, choice and confirmation is itself a command ("mute id:3f2a1b9c-…", "end confirm"), so an
// adapter runs a button press as one more request. Those commands name a participant by the word
// id:<whole uuid>, which resolves by uuid alone and is never compared with display names, so a
// guest cannot redirect a button by naming a device after someone's uuid. Replies that change the meeting are Public;
// errors, help and choices are private, with Failed set for errors. Errors that are safe to show
// (the platform's reasons, bad input, an unlinked channel) are one clear line; anything else is
// answered "Something went wrong (ref XXXX)" and logged once with that ref. Three failures a user
// can only wait out or check have their own line: the platform did not confirm a command that is
// not safe to repeat (meetings.ErrOutcomeUnknown), the platform is not answering
// (meetings.ErrPlatformUnresponsive), the bot's database is unavailable (store.ErrUnavailable). A panic in a handler
// is recovered, logged with its stack and answered the same way. PINs never appear in replies,
// logs or the audit log (link demo ****): every word that could be a PIN by the command's grammar
// is masked, whatever the order and whether or not the command parsed, and Reply.CarriedSecret
// tells the adapter the request held one (secrets.go).
//
// # Adding a command
//
// Add one entry to newRegistry (registry.go): name, aliases, section, usage forms, one-line
// summary, long help and examples, the rights it needs, its argument counts, whether it needs a
// linked meeting (the link is then loaded before the handler runs), whether it changes the meeting
// (it is then audited with its outcome), whether it may be scheduled, which argument is a
// participant <name>, which keywords stand for several people (guests, all), what the named
// participant's node must allow (mute, disconnect, transfer: refused with one line before any call
// when the node says it cannot), which words could be secrets, its support on a private-cloud
// node, and its handler. The parser, help, help <command>, rights checks, node-kind
// refusals and the audit log follow from the entry: handlers do not repeat those checks.
//
// # Parsing
//
// Tokenize splits on every Unicode space (the full-width U+3000 too); quotes of several scripts
// (", ', “…”, 「…」) group words; command words and keywords compare after NFKC and lower case, so
// "ＭＵＴＥ ｇｕｅｓｔｓ" works; names keep their case and script. A <name> resolves against the
// listener's live roster: the exact display name or a uuid prefix (both, so a name that copies a
// uuid prefix makes it ambiguous), then any case, then a unique prefix, then a unique part of the name (so 张 finds 张伟), and once more without the marks typing
// leaves around a name (@Bob, 张伟。). No match says so; several matches answer with choices;
// neither changes anything.
//
// # Concurrency
//
// A Router is safe for concurrent use: it keeps no state per request (each request's parsed form
// lives on the stack of Handle), its registry is built once and only read, and it holds no locks
// while calling the platform. The one thing it shares between requests is a short-lived cache of
// each channel's link (Config.LinkTTL, 2 s), so a burst of commands reads the store once; its own
// link and unlink drop the entry at once, a change made through another replica shows within the
// TTL. Every call takes the request's context; the audit entry and a link
// in progress are finished even when that context ends, so a link is never half made.
//
// # What the interfaces promise
//
// Meetings (relay.Supervisor) gives a session and the live roster of a linked meeting. Roster
// reads the listener's roster from memory where this replica listens, so resolving a name costs no
// request; elsewhere it makes one participants request. Session returns a session the core uses
// but never closes. Follow takes over the session link opened; Unfollow is called after the link
// was deleted. Scheduler (scheduler.Scheduler) validates and stores schedules; its errors about a
// spec carry UserMessage, which the core shows as is. The core checks before Add that the scheduled
// command parses and that the user has its rights, and records those rights in the Schedule.
//
// # Private-cloud nodes
//
// Each link knows its node kind (store.Link.Cloud): the user's private|public word on link, else
// detection from new_session's answer, else Config.DefaultCloud. On a private node the registry's
// node column refuses what the node lacks (layout, spotlight, admit, role, transfer) with one plain
// line and no call, says start has no effect, asks to confirm mute <name> after saying what mute
// does there, and limits dial to sip and h323. help marks what the channel's node lacks.
package commands
