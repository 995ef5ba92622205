// Package sim is an in-process simulator of the meeting platform described in
// shared/api/platform-api.md (the vendor's API and the project's clarifications 1–10). Tests,
// benchmarks, the demo and `bot sim --listen ADDR` run against it as they would against a node.
// It does not import package meetings, so the client and the simulator check each other against
// the API page; it does not import testing either.
//
// # Usage
//
// A Server is an http.Handler. Its zero value is ready for use with the default Options (tokens
// valid 120 s, dial-outs answering after 2 s, a keep-alive comment every 15 s); everything is in
// memory and nothing is shared between Servers:
//
//	s := sim.New(sim.Options{TokenTTL: time.Second})
//	s.AddRoom(sim.RoomConfig{Number: "1061", Alias: "weekly", HostPIN: "1234", GuestPIN: "5678"})
//	ts := httptest.NewServer(s) // checkJoin's mcuHost is ts's host, so later calls come back here
//	defer ts.Close()
//	defer s.Close() // ends sessions and streams first, so ts.Close does not wait for them
//
// One handler serves the checkJoin server (POST /api/v3/meet/checkJoin.shtml) and the node
// (/api/services/<room>/…): checkJoin's mcuHost is the Host the request came to (clarification
// 7). A room is addressed by its number or its alias, case-insensitively.
//
// # What it models
//
//   - checkJoin, answered HTTP 200 with code "200" and results, or with another code ("400",
//     "403", "404") and a message in both "message" and "msg" (clarification 8).
//   - new_session with the pin header: the host PIN makes a HOST, the guest PIN a GUEST; a room
//     without a host PIN makes everyone a host; a room with AllowGuest and no guest PIN admits
//     guests with "pin: none". expires is a number in new_session and a string in
//     refresh_session, like the page's examples. Tokens really expire: one not refreshed within
//     TokenTTL lapses, its participant is dropped, and its streams get a disconnect event with
//     reason "Timer expired awaiting token refresh". refresh_session invalidates the old token;
//     end_session releases it. A session opened with hideme is never listed nor announced.
//   - What a current node sends: besides the page's fields, every field Pexip's schemas
//     (@pexip/infinity-api 20.0.0) require, with its type. The participant object carries
//     buzz_time, mute_supported, disconnect_supported, transfer_supported and fecc_supported
//     ("YES"/"NO"), is_video_silent, external_node_uuid, supports_direct_chat,
//     can_receive_personal_mix and receive_from_video_mix; service_status and service_update
//     carry started; message carries direct; layout carries requested_layout;
//     presentation_start carries presenter_uuid; the PIN-required 403 carries version. A phone
//     call arrives over "sip" (audio only), as Pexip's protocols have no "phone".
//     internal/pexipcheck checks all of it against Pexip's own validators.
//   - Every conference and participant command changes the room and emits what a node would:
//     lock/unlock → service_update; muteguests → service_update and a participant_update per
//     guest (later guests join muted); start_service starts the meeting and admits the waiting
//     room; disconnect removes everyone, the caller included, each session's streams getting a
//     disconnect event with ReasonHostEnded; message → message; override_layout → layout; participant
//     mute, unmute, hard_vmute, hard_uvmute, allow/denyrxpresentation, spotlighton/off, role and
//     unlock → participant_update; participant disconnect and transfer → participant_delete (a
//     kicked session's streams get ReasonAPIKick; transfer moves the participant, same uuid,
//     into the target room when the PIN fits, else answers result false; its role is Pexip's
//     "host" or "guest", or the page's "chair"); dtmf and cancel/resume_delay are recorded on the
//     Participant; calls answers a WebRTC sdp or RTMP urls, and …/calls/<call>/ack and
//     …/disconnect exist (disconnect → call_disconnected, answered with result null as Pexip's
//     disconnect_call is).
//   - Capabilities: a participant joined with ParticipantSpec.Unsupported (or given
//     Room.SetUnsupported) reports mute_supported, disconnect_supported or transfer_supported
//     "NO", and the node answers result false to that command for them.
//   - Started: a room with RoomConfig.WaitForHost waits for a host (started false) until a
//     host with media joins or a host calls start_service (not on a private node); a
//     controlling client (protocol api) does not start it. Until then joining guests wait with
//     service_type "waiting_room"; the start tells service_update, then admits them
//     (participant_update), except while the room is locked. Other rooms are started from the
//     first.
//   - dial: the callee appears at once with service_type "connecting" and call_direction "out",
//     and becomes "conference" after DialAnswerAfter — unless its destination contains
//     "noanswer" (any case), in which case it never answers and is removed
//     (participant_delete) after DialTimeout. streaming and presentation_url on a dial that is
//     not RTMP, and a keep_conference_alive value the page does not list, answer 400
//     "Illegal value".
//   - Recording and live streaming (section 4): an RTMP dial with streaming "yes" is a
//     streaming participant — protocol rtmp, is_streaming_conference true, call_direction out,
//     connecting, then conference after DialAnswerAfter — whose keep_conference_alive defaults
//     to keep_conference_alive_never (a plain RTMP dial reports is_streaming_conference false).
//     An RTMP dial whose destination is no rtmp:// or rtmps:// URL never answers. checkJoin
//     answers isRecord and isLive true unless RoomConfig.NoRecord or NoLive is set (both true
//     by default, so the demo can record and go live); the node does not itself refuse a
//     streaming dial when they are false. A private room refuses RTMP dials (section 7). The
//     node does not model what keep_conference_alive_never does when the people leave.
//   - A guest joining a locked room (or a ParticipantSpec with Waiting) has service_type
//     "waiting_room" until a host admits it (participant unlock, or start_service).
//   - Errors exactly as clarification 6 lists them: 403 "Invalid token", 403 "Invalid PIN",
//     403 {"pin":"required","guest_pin":"none"|"required"}, 403 "Invalid role" for a guest on a
//     host-only command, 404 "Neither conference nor gateway found", 404 "Participant not found",
//     400 "Illegal value" (bad layout, protocol, role, digits, malformed JSON), 415 for a body
//     that is not JSON, and 200 with result false for refusals. Every answer has
//     "status": "success", as the platform's do.
//   - A route the simulator does not model answers 404 with a body naming it, and logs a
//     warning, so a client calling something unexpected fails loudly. A modelled route with the
//     wrong method answers 405.
//
// # The event stream
//
// GET …/events?token=… answers text/event-stream. Each event is written as "event: <name>",
// "id: <number>", "data: <one JSON value>" and a blank line; bodiless events (the sync brackets,
// presentation_stop, presentation_frame, bye, refresh_token) carry "data: null". Ids grow per
// room. A subscription starts with participant_sync_begin, one participant_create per listed
// participant, and participant_sync_end (clarification 4), built under the room's lock so no
// event falls between the sync and what follows. Idle streams get a ":" comment line every
// KeepAlive; with Options.Retry set, a stream starts with a "retry:" field. A stream belongs
// to its session, not to a token: it survives refreshes and ends when the session ends.
// Room.AwaitStreams waits until a number of streams are open, so a test can make people act
// knowing the listener will see it as a change rather than in its first sync.
//
// # Concurrency and backpressure
//
// Server and Room are safe for concurrent use. Each subscriber costs one goroutine (the HTTP
// handler's own), a one-slot wake-up channel and a queue that holds memory only while events
// wait in it; an event is encoded once and appended to every subscriber's queue without
// blocking, and the handler writes what waits in one go and flushes. A subscriber with more
// than StreamBuffer events waiting (4096 by default) is dropped — its stream closes — so a slow
// client never holds up the room; it reconnects and re-syncs, as a client must after any drop.
// Timers (token lapse, dial answer) are runtime timers, not goroutines.
//
// # Control methods
//
// Room methods make people act: Join (returns the uuid), Leave, Present (presentation_start,
// participant_update, and presentation_frame on public rooms; Frame sends another),
// RevokePresentation (Pexip's revocation: a presentation_start whose presenter name, uri and
// uuid are empty), Speak (stage, then layout), Chat, Message (an application/json message, or a
// direct one to one session), SetLocked, SetUnsupported, End (a host in the room ends the
// meeting: ReasonHostEnded), AdminDisconnect (an administrator disconnects someone:
// ReasonAdmin), and read the room: Participants, Participant, Find, State. Server.Requests lists
// the platform requests seen, with whether their token was valid.
//
// # Faults
//
//   - Server.FailNext(op, status, n): the next n requests of op ("lock", "new_session",
//     "participant/mute", "call/ack", "events", "checkJoin", or "*") answer status.
//   - Server.SlowNext(op, d, n): the next n requests of op wait d before they are answered.
//   - Server.SetLatency(d): every platform request waits d first (the request's context ends it).
//   - Server.ExpireTokens: every session lapses now, as if no one had refreshed.
//   - Room.DropStreams closes streams without a word; Room.ByeStreams sends bye first;
//     Room.RequestRefresh sends refresh_token; Room.InjectRaw writes any text, malformed events
//     included; Room.Emit sends any event name with any body (conference_update, message_received,
//     call_disconnected, …).
//   - Server.FailStreamingDials(n): the next n streaming dials are accepted and never connect;
//     each is removed (participant_delete) after DialTimeout, as an unanswered dial is.
//   - Server.DropStreamingAfter(d, n): the next n streaming dials connect, then hang up d later
//     (participant_delete), as a recorder that ends the call does; Room.HangUpStreaming hangs up
//     every streaming participant of a room now. A node says nothing more than participant_delete.
//   - Server.SetHook sees every platform request and may answer it itself.
//
// # HTTP control surface
//
// Under /_sim/, which is no path of the platform's, JSON in and out, so `bot sim` can be driven
// with curl (GET /_sim/ prints this list):
//
//	GET  /_sim/rooms                        rooms and their state (never PINs)
//	POST /_sim/rooms                        {"number","alias","name","host_pin","guest_pin","allow_guest","private","rich","wait_for_host","no_record","no_live"}
//	GET  /_sim/rooms/{room}                 state and participants
//	POST /_sim/rooms/{room}/join            {"name","role","protocol","waiting","unsupported"} → {"uuid"}
//	POST /_sim/rooms/{room}/leave           {"who"}           who = uuid or display name
//	POST /_sim/rooms/{room}/present         {"who","on"}
//	POST /_sim/rooms/{room}/speak           {"who"}
//	POST /_sim/rooms/{room}/chat            {"who","text"}
//	POST /_sim/rooms/{room}/message         {"who","type","text","to"}
//	POST /_sim/rooms/{room}/revoke          revoke the presentation
//	POST /_sim/rooms/{room}/unsupported     {"who","mute","disconnect","transfer"}
//	POST /_sim/rooms/{room}/end             a host ends the meeting
//	POST /_sim/rooms/{room}/admin_disconnect {"who"}
//	POST /_sim/rooms/{room}/lock            {"locked"}
//	POST /_sim/rooms/{room}/frame           another presentation_frame of the same slide
//	POST /_sim/rooms/{room}/next_slide      the next slide and its presentation_frame
//	POST /_sim/rooms/{room}/drop_streams    → {"closed": n}
//	POST /_sim/rooms/{room}/bye             → {"closed": n}
//	POST /_sim/rooms/{room}/refresh         refresh_token on every stream
//	POST /_sim/rooms/{room}/inject          {"frame"}
//	POST /_sim/rooms/{room}/emit            {"event","data"}
//	POST /_sim/rooms/{room}/hangup_streaming → {"dropped": n}
//	POST /_sim/streaming/fail               {"n"}
//	POST /_sim/streaming/drop               {"ms","n"}
//	POST /_sim/fail                         {"op","status","n"}
//	POST /_sim/slow                         {"op","ms","n"}
//	POST /_sim/latency                      {"ms"}
//	POST /_sim/expire_tokens
//	POST /_sim/clear_faults
//	GET  /_sim/requests
//
// For example:
//
//	curl -d '{"name":"张伟"}' localhost:8090/_sim/rooms/demo/join
//	curl -d '{"op":"lock","status":503,"n":2}' localhost:8090/_sim/fail
//
// # Private-cloud mode
//
// A room with RoomConfig.Private behaves as section 7 describes a private-cloud node:
//
//   - new_session's answer lacks stun, analytics_enabled and current_service_type.
//   - participant_create is never sent: a join first appears as participant_update, and the
//     subscription's sync sends participant_update (not participant_create) between the
//     brackets. presentation_frame is never sent, and presentation.jpeg answers 404.
//   - start_service answers 200 true and does nothing.
//   - override_layout and participant spotlighton, spotlightoff, unlock, role and transfer are
//     not supported: they answer 400 {"status":"success","result":"Command not supported on
//     this node"} and change nothing. (400 rather than 404, so a client does not read it as an
//     unknown participant.)
//   - participant mute mutes everyone except chairs and the current speaker (the last one
//     Speak named), whatever uuid it names, and later joiners who are not chairs join muted
//     while that lasts; a participant unmute unmutes that participant and ends it.
//   - dial accepts protocols sip and h323 only; any other answers 400 "Illegal value", so
//     nothing can be recorded or streamed live from a private node.
//
// # Rich mode
//
// A room with RoomConfig.Rich behaves as the newest public node: besides what a current node
// sends, it adds the optional fields Pexip's schemas describe — in the participant object
// call_tag, is_client_muted, is_conjoined, is_idp_authenticated, is_transferring,
// is_main_video_dropped_out, needs_presentation_in_mix (and last_spoken_time in the
// participants answer, which Pexip's event type omits); in service_status and service_update
// all_muted, presentation_allowed, live_captions_available, direct_media, breakout_rooms,
// guests_can_present, guests_can_unmute; in new_session conference_name, service_name, turn,
// bandwidths and feature flags; in layout overlay_text_enabled. A client must take them all.
//
// # Where the vendor page and Pexip disagree
//
// The page (shared/api/platform-api.md) is the platform; Pexip's definitions fill its gaps.
// Where the page is explicit and Pexip says otherwise, the simulator follows the page, and
// internal/pexipcheck lists these as the only differences it expects:
//
//   - dial's role is "guest" or "chair" (Pexip: "HOST" or "GUEST"), and its protocol may be
//     "phone" (Pexip has no phone).
//   - new_session takes hideme, which Pexip's request_token body does not know.
//   - new_session's expires is a number (Pexip: a string; refresh_session's is a string on both).
//   - A private node's new_session lacks current_service_type (section 7), which Pexip requires.
//   - Errors come with "status": "success" (clarification 6); Pexip's 404 and 415 have "failed".
//   - The events service_update and message keep the page's names (Pexip: conference_update
//     and message_received); bye (clarification 2) is no event of Pexip's.
//   - Events without a body (participant_sync_begin, participant_sync_end, presentation_frame,
//     presentation_stop, refresh_token) carry data: null (clarification 1); Pexip's carry none.
//   - call_disconnected's reason is a string; @pexip/infinity's type has an object.
//
// Where the page is silent the simulator follows Pexip: a call's disconnect answers result null,
// and the fields listed under "What it models". One case goes the other way: transfer's role.
// The page's table gives it as chair or guest, like role's, but Pexip's transfer schema allows
// only host or guest, and a node built on it refuses chair; so the client sends "host" (issue
// 13) and the simulator accepts both.
//
// # Demo
//
// Server.RunDemo animates the room "demo" (number 1234567, host PIN 1234, guest PIN 5678, named
// "Demo stand-up"): two of its cast — realistic names, 张伟 among them — are there at once, and
// every 5–20 s someone joins, leaves, speaks, chats, or starts or stops presenting.
// DemoOptions.Seed makes a run repeatable.
package sim
