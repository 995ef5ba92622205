// Package slack is meetbot's Slack adapter: the /meet slash command and its buttons come in, over
// signed HTTP requests or Socket Mode, and replies and meeting notifications go out through
// response_url and the Web API. It imports only chat and slack-go.
//
// # Usage
//
//	a, err := slack.New(slack.Config{BotToken: tok, SigningSecret: sec, Hosts: hosts}, router, logger)
//	a.Register(mux)          // POST /slack/commands, /slack/interactions, /slack/events
//	go a.Run(ctx)            // Socket Mode when AppToken is set; otherwise waits for ctx
//	// a is the relay's chat.Poster (for "slack" channels) and the scheduler's chat.RightsResolver
//
// # Inbound
//
// Every HTTP request is verified with the signing secret (HMAC-SHA256 over "v0:timestamp:body",
// timestamp within five minutes) before anything is parsed; a bad, stale or replayed signature gets
// 401 and changes nothing. Before any of its body is read, a request must carry well-formed, fresh
// signature headers and declare no more than its endpoint takes, and it must find one of a bounded
// number of read slots (503 otherwise); see guard.go for the bounds. Replays are refused by the
// decoded signature through a ReplayGuard: in memory by default, the shared store with replicas. Slack wants an answer within three seconds, so the adapter acknowledges
// at once (an empty 200, or the Socket Mode ack) and runs the command in the background, delivering
// the reply through the request's response_url. A button press is a command too: its value is the
// command text, it goes through the same chat.Handler with the presser's rights, and its result
// updates the message the button was on.
//
// # Rights
//
// Users and user groups named in Config.Hosts are hosts; workspace admins and owners (users.info)
// are channel admins; everyone else is a member; deactivated users have no rights beyond help.
// Lookups are cached for a few minutes.
//
// # Outbound and backpressure
//
// Post makes exactly one chat.postMessage attempt for the notification itself and never retries,
// so a message is never posted twice. A 429 (or an "ok":false "ratelimited" answer) comes back as a
// *chat.RateLimitError; a channel or workspace the bot can no longer reach comes back as
// chat.ErrChannelGone; any other error is for the caller (the relay) to retry. Pacing and
// coalescing are the relay's. In threaded mode the adapter keeps one "meeting in progress" status
// message per channel and posts notifications into its thread; edits of that status message run
// in the background, at most one every few seconds, always with the newest state, so they never
// hold up a post.
//
// # Native surfaces
//
// At start Run reads the token's scopes from auth.test (the x-oauth-scopes header) and logs which
// surfaces are on. With calls:write and a MeetingState.JoinURL (MEET_JOIN_URL), a running
// meeting becomes a Slack Call (calls.go): calls.add once per MeetingState.Occurrence, a `call`
// block in the channel (the thread of a threaded channel), and the roster kept by a background
// loop per call that sends differences in batches of callBatch, at most one request every
// callGap (three seconds), waiting out rate limits, so a join storm costs a few requests and
// never holds up a post; calls.end when the meeting ends. Without the scope or a join page, the status message
// stays, with a Join button when there is a join page. Waiting-room alerts (waiting.go) come from
// MeetingState.People; their Admit buttons are presses like any other, checked by the core. The
// Home tab (home.go) lists a HomeSource's meetings in channels the viewer is a member of.
//
// # Concurrency
//
// An Adapter is safe for concurrent use. Background work (commands, status edits) stops when Run
// returns.
package slack
