// Package matrix is meetbot's Matrix adapter: room messages starting with "!meet" (or a mention of
// the bot followed by a command) become chat.Requests for the command core, replies and meeting
// notifications become m.notice messages, and power levels become rights. It is built on
// mautrix-go (client, syncer, sqlstatestore, cryptohelper).
//
// # Usage
//
//	a, err := matrix.New(ctx, matrix.Config{Homeserver: …, UserID: …, AccessToken: …, PickleKey: …,
//		DataDir: "data"}, router, st /* store.KV */, logger)
//	go a.Run(ctx)        // sync until ctx ends
//	posters["matrix"] = a // chat.Poster for the relay; a is also a chat.RightsResolver
//	defer a.Close()       // after Run has returned: closes the Matrix database
//
// # Behaviour
//
//   - Invites: the bot joins rooms it is invited to by users on Config.Allow (default: its own
//     homeserver) and declines other invites. Commands from users outside the allow-list are
//     ignored.
//   - Kicks: when the bot is kicked or banned from a room, it calls the handler with "unlink" on
//     the kicker's behalf with channel-admin rights, and drops the reply (it can no longer post
//     there).
//   - Ignored: the bot's own messages, edits, m.notice messages (other bots), anything from before
//     the bot first started, and messages from before the bot joined a room. The sync token is
//     kept in the SyncStore ("matrix/<user id>/next_batch") after each batch is handled, so a
//     restart neither replays nor misses commands; a password login keeps its device id there
//     too ("matrix/<user id>/device_id").
//   - Rights: at or above the room's kick level is a host, at or above its state_default is a
//     channel admin, other members are members; room version 12 creators have unlimited power.
//   - Replies are m.notice replies to the command (in its thread, if it was typed in one) with an
//     HTML and a plain body; tables become
//     HTML tables; choices are numbered and picked with "!meet 2", a confirmation with
//     "!meet confirm" (or "yes"), for Config.ChoiceTTL. Every message the bot sends carries an
//     empty m.mentions and escaped text, so a participant named "@room" pings no one.
//   - Secrets: a message whose reply has chat.Reply.CarriedSecret set (a PIN, a stream key, in any
//     command and word order), typed in a room with others, is redacted when the bot's power
//     allows, otherwise the bot says it stays visible. In a direct message,
//     "!meet link <room> <pin> in <!room:server or #alias:server>" links that room instead, with
//     the sender's rights there.
//   - Names: display names reach the core as one line; in tables and choices they are rendered as
//     one line of plain text (Markdown escaped in the body, HTML escaped, no mention or link).
//   - Encryption (Config.PickleKey, build tag goolm): mautrix's cryptohelper with pure-Go olm; its
//     keys and the room state live in the adapter's database (modernc SQLite in Config.DataDir, or
//     Config.DB). Room keys go to every member's devices, verified or not. Without a pickle key the
//     bot never posts plain text into an encrypted room: Post returns chat.ErrChannelGone.
//   - Identity: at the first encrypted start the bot creates its cross-signing keys (the
//     homeserver asks for Config.Password), signs its device, keeps the private keys in secret
//     storage and prints the recovery key once on Config.Stderr. With Config.RecoveryKey a new
//     device joins the same identity; a device outside it is reported loudly at start, never
//     replaced. Config.RequireVerified refuses commands from devices not cross-signed by their
//     owner, with one notice.
//
// # Concurrency and failures
//
// Commands run beside the sync loop, one at a time per room and rooms in parallel, each bounded by
// Config.HandlerTimeout; Run waits for those already received before it returns, so a clean
// restart loses none (after a crash, a command that was still running is not run again). Post and
// Rights may be called from any goroutine. Rate limits on replies are waited out (up to four tries); Post returns *chat.RateLimitError instead so the relay can
// coalesce. A failing homeserver is retried with capped backoff, so a homeserver restart only
// delays commands.
package matrix
