package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/recording"
	"github.com/meetbot/meetbot/store"
)

// Recording and live streaming
//
// Both are one streaming RTMP participant dialled into the meeting (API section 4): the
// recording to the operator's recorder (MEET_RECORDER_URL), a live stream to a URL the host
// gives. What runs is kept in the store under the meeting's key, so record stop works from any
// replica and after a restart, and a takeover knows a recording is running. The URL of a live
// stream carries its stream key and is never stored, shown or logged.

// Stream kinds.
const (
	streamRecording = "recording"
	streamLive      = "live"
)

// streamLabels name each kind in sentences: "No live stream is running".
var streamLabels = map[string]string{streamRecording: "recording", streamLive: "live stream"}

// streamNames are the display names the streaming participants join with, so the channel
// recognises them in who and the platform's own lists.
var streamNames = map[string]string{streamRecording: "Recording", streamLive: "Live stream"}

// liveSecrets masks every URL live start is given: the stream URL and the presentation URL.
func liveSecrets(_ *registry, args []Token) secretWords {
	var out secretWords
	for i := 1; i < len(args); i++ {
		if !args[i].Quoted && keyword(args[i].Text) == "presentation" {
			continue
		}
		out.add(i, recording.Mask(args[i].Text))
	}
	return out
}

func (r *Router) record(ctx context.Context, c *call) (chat.Reply, error) {
	switch c.kw(0) {
	case "start":
		if len(c.args) != 1 {
			return chat.Reply{}, userErrorf("Usage: record start | record stop.")
		}
		if !r.cfg.Recorder.Configured() {
			return chat.Reply{}, userErrorf("The operator has not configured a recorder (MEET_RECORDER_URL), so this bot cannot record. A host can still stream live: live start <rtmp-url>.")
		}
		return r.startStream(ctx, c, streamRecording, "", "")
	case "stop":
		return r.stopStream(ctx, c, streamRecording)
	}
	return chat.Reply{}, userErrorf("Usage: record start | record stop.")
}

func (r *Router) live(ctx context.Context, c *call) (chat.Reply, error) {
	switch c.kw(0) {
	case "start":
		var url, presentation string
		switch {
		case len(c.args) == 2:
			url = c.word(1)
		case len(c.args) == 4 && c.kw(2) == "presentation":
			url, presentation = c.word(1), c.word(3)
		default:
			return chat.Reply{}, userErrorf("Usage: live start <rtmp-url> [presentation <rtmp-url>].")
		}
		for _, u := range []string{url, presentation} {
			if u == "" {
				continue
			}
			if err := recording.CheckURL(u); err != nil {
				return chat.Reply{}, userErrorf("%s Give an rtmp:// or rtmps:// URL, such as rtmp://a.rtmp.youtube.com/live2/<stream key>.", err.Error())
			}
		}
		return r.startStream(ctx, c, streamLive, url, presentation)
	case "stop":
		return r.stopStream(ctx, c, streamLive)
	}
	return chat.Reply{}, userErrorf("Usage: live start <rtmp-url> [presentation <rtmp-url>] | live stop.")
}

// startStream dials the streaming participant of kind, after every refusal that needs no dial.
func (r *Router) startStream(ctx context.Context, c *call, kind, url, presentation string) (chat.Reply, error) {
	what := map[string]string{streamRecording: "record", streamLive: "stream live"}[kind]
	key := c.link.Meeting.Key()
	streams, err := store.LoadStreams(ctx, r.cfg.Store, key)
	if err != nil {
		return chat.Reply{}, err
	}
	if st, ok := streams[kind]; ok {
		if r.running(ctx, c, st) {
			return chat.Reply{}, userErrorf("%s is already running in %s, since %s (started by %s). Stop it first: %s stop.",
				upperFirst(streamLabels[kind]), meetingName(c.link), st.Since.In(r.location(ctx, c)).Format("15:04"), st.By, map[string]string{streamRecording: "record", streamLive: "live"}[kind])
		}
		delete(streams, kind) // it ended without a stop the bot heard of
	}
	// checkJoin says what the room's account may do; asked now, so a change of plan shows at once.
	info, err := r.cfg.Client.CheckJoin(ctx, c.link.Meeting.Room, c.link.PIN.Reveal(), r.cfg.BotName)
	if err != nil {
		return chat.Reply{}, fmt.Errorf("checkJoin for %s: %w", kind, err)
	}
	if kind == streamRecording && !info.IsRecord || kind == streamLive && !info.IsLive {
		return chat.Reply{}, userErrorf("The platform does not let %s %s (the room's account has %s turned off).",
			meetingName(c.link), what, map[string]string{streamRecording: "recording", streamLive: "live streaming"}[kind])
	}
	if kind == streamRecording {
		if url, err = r.cfg.Recorder.Expand(recording.Vars{
			Room: c.link.Name, Alias: c.link.Meeting.Room, At: r.cfg.Now(), Zone: r.location(ctx, c),
		}); err != nil {
			return chat.Reply{}, userErrorf("The recorder's address cannot be made for this meeting: %v.", err)
		}
	}
	s, err := r.session(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	uuids, err := s.Dial(ctx, meetings.DialRequest{
		Destination: url, Protocol: meetings.ProtocolRTMP, Role: "guest", Streaming: true,
		PresentationURL: presentation, KeepConferenceAlive: meetings.KeepAliveNever,
		RemoteDisplayName: streamNames[kind],
	})
	if err != nil {
		return chat.Reply{}, fmt.Errorf("dial the %s: %w", kind, err)
	}
	if len(uuids) == 0 {
		return chat.Reply{}, userErrorf("The platform accepted the %s but named no participant for it; check who.", streamLabels[kind])
	}
	streams[kind] = store.Stream{UUID: uuids[0], Since: r.cfg.Now(), By: c.req.User.Name}
	if err := store.SaveStreams(ctx, r.cfg.Store, key, streams); err != nil {
		return chat.Reply{}, err
	}
	if kind == streamRecording {
		return public("started recording %s: the recorder is being called, and this channel hears when it is connected", meetingName(c.link)), nil
	}
	to := recording.Mask(url)
	if presentation != "" {
		to += " (presentation to " + recording.Mask(presentation) + ")"
	}
	return public("started streaming %s live to %s: the stream is being connected, and this channel hears when it is", meetingName(c.link), to), nil
}

// stopStream disconnects the streaming participant of kind.
func (r *Router) stopStream(ctx context.Context, c *call, kind string) (chat.Reply, error) {
	if len(c.args) != 1 {
		return chat.Reply{}, userErrorf("Usage: %s stop.", map[string]string{streamRecording: "record", streamLive: "live"}[kind])
	}
	key := c.link.Meeting.Key()
	streams, err := store.LoadStreams(ctx, r.cfg.Store, key)
	if err != nil {
		return chat.Reply{}, err
	}
	st, ok := streams[kind]
	if !ok {
		return chat.Reply{}, userErrorf("No %s is running in %s.", streamLabels[kind], meetingName(c.link))
	}
	s, err := r.session(ctx, c)
	if err != nil {
		return chat.Reply{}, err
	}
	// Forgotten before it is disconnected, so the relay, seeing it leave, knows it was stopped on
	// purpose and does not report the recorder as hung up.
	delete(streams, kind)
	if err := store.SaveStreams(ctx, r.cfg.Store, key, streams); err != nil {
		return chat.Reply{}, err
	}
	if err := s.Kick(ctx, st.UUID); err != nil && !errors.Is(err, meetings.ErrNotFound) {
		streams[kind] = st
		if serr := store.SaveStreams(context.WithoutCancel(ctx), r.cfg.Store, key, streams); serr != nil {
			r.log.Warn("a stream that could not be stopped is no longer remembered", "meeting", key, "err", serr)
		}
		return chat.Reply{}, fmt.Errorf("stop the %s: %w", kind, err)
	}
	if kind == streamRecording {
		return public("stopped the recording of %s", meetingName(c.link)), nil
	}
	return public("stopped the live stream of %s", meetingName(c.link)), nil
}

// dialGrace is how long after dialling a stream counts as running though the roster does not
// show it yet: the platform answers a dial at once and lists the call a moment later, and drops
// a call that is not answered within 30 s.
const dialGrace = 45 * time.Second

// running reports whether st still runs: its participant is in the meeting, or it was dialled
// moments ago. When the roster cannot be read it is taken to run, so nothing is dialled twice.
func (r *Router) running(ctx context.Context, c *call, st store.Stream) bool {
	if r.cfg.Now().Sub(st.Since) < dialGrace {
		return true
	}
	roster, err := r.roster(ctx, c)
	return err != nil || inRoster(roster, st.UUID)
}

// location is the channel's time zone, for times shown and recorder file names.
func (r *Router) location(ctx context.Context, c *call) *time.Location {
	set, err := r.cfg.Store.GetSettings(ctx, c.req.Channel)
	if err != nil {
		return time.UTC
	}
	if loc, err := time.LoadLocation(r.zone(set)); err == nil && r.zone(set) != "" {
		return loc
	}
	return time.UTC
}
