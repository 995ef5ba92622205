package main

import (
	"context"
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meetbot/meetbot/adapters/slack"
	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/joinurl"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/storeurl"
)

// TestSlackHomeSource lists a workspace's links from a real store with their join pages and what
// the relay says is live, and nothing of other workspaces or platforms.
func TestSlackHomeSource(t *testing.T) {
	ctx := context.Background()
	key, err := store.ParseSecretKey(testKey)
	if err != nil {
		t.Fatal(err)
	}
	st, err := storeurl.Open(ctx, "sqlite::memory:", key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	weekly := store.MeetingRef{APIServer: "https://api.example.cn", Room: "weekly"}
	links := []store.Link{
		{Channel: chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C1"}, Meeting: weekly, Name: "Weekly sync", PIN: "1234"},
		{Channel: chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C2"}, Meeting: store.MeetingRef{APIServer: "https://api.example.cn", Room: "5678"}, Name: "Retro"},
		{Channel: chat.ChannelRef{Platform: "slack", Workspace: "T2", Channel: "C9"}, Meeting: weekly, Name: "Weekly sync"},
		{Channel: chat.ChannelRef{Platform: "matrix", Channel: "!r:example.org"}, Meeting: weekly, Name: "Weekly sync"},
	}
	for _, l := range links {
		if err := st.PutLink(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := joinurl.Parse("https://meet.example.cn/join?c={alias}{number}")
	if err != nil {
		t.Fatal(err)
	}
	h := slackHome{Links: st, JoinURL: tmpl, Log: slog.New(slog.DiscardHandler),
		Live: func(_ context.Context, m store.MeetingRef) (chat.MeetingState, bool) {
			if m != weekly {
				return chat.MeetingState{}, false
			}
			return chat.MeetingState{Present: []string{"Alice"}, Locked: true,
				People: []chat.Person{{Name: "Alice"}, {Name: "Recorder", Streaming: true}}}, true
		}}
	got, err := h.LinkedMeetings(ctx, "T1")
	if err != nil {
		t.Fatal(err)
	}
	// In the store's order (by meeting). {alias}{number} needs both, which no room has: no links.
	want := []slack.HomeMeeting{
		{Channel: links[1].Channel, Name: "Retro"},
		{Channel: links[0].Channel, Name: "Weekly sync", Live: true, Present: []string{"Alice"}, Locked: true, Recording: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LinkedMeetings (-want +got):\n%s", diff)
	}
	h.JoinURL, _ = joinurl.Parse("https://meet.example.cn/join?c={alias}")
	got, _ = h.LinkedMeetings(ctx, "T1")
	if got[1].JoinURL != "https://meet.example.cn/join?c=weekly" || got[0].JoinURL != "" {
		t.Errorf("join pages %q, %q", got[0].JoinURL, got[1].JoinURL)
	}
}
