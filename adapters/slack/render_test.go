package slack

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	slackgo "github.com/slack-go/slack"

	"github.com/meetbot/meetbot/chat"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func whoReply() chat.Reply {
	return chat.Reply{
		Text: "3 in the meeting (locked)",
		Table: &chat.Table{
			Columns: []string{"Name", "Role", "Muted", "Presenting", "Waiting"},
			Rows: []chat.Row{
				{Cells: []string{"Alice", "host", "no", "yes", "no"}, Actions: []chat.Action{
					{Label: "Mute", Command: "mute 1a2b3c4d"}, {Label: "Kick", Command: "kick 1a2b3c4d", Danger: true}}},
				{Cells: []string{"Bob & Co", "guest", "yes", "no", "no"}, Actions: []chat.Action{
					{Label: "Unmute", Command: "unmute 5e6f7a8b"}, {Label: "Kick", Command: "kick 5e6f7a8b", Danger: true}}},
				{Cells: []string{"<!channel>", "guest", "no", "no", "yes"}, Actions: []chat.Action{
					{Label: "Admit", Command: "admit 9c0d1e2f"}}},
			},
		},
	}
}

// TestRenderGolden renders replies and status messages to Block Kit JSON and compares them with
// testdata/*.golden.json (go test -run TestRenderGolden -update rewrites them).
func TestRenderGolden(t *testing.T) {
	start := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		msg  message
	}{
		{"who", renderReply(whoReply(), replyOptions{Requester: "U1", Source: "who"})},
		{"who_core_columns", renderReply(chat.Reply{Text: "2 people in Weekly:", Table: &chat.Table{
			Columns: []string{"Name", "Role", "Audio", "Presenting", "State"},
			Rows: []chat.Row{
				{Cells: []string{"Alice", "host", "on", "yes", "in meeting"}, Actions: []chat.Action{
					{Label: "Mute", Command: "mute 1a2b"}, {Label: "Kick", Command: "kick 1a2b", Danger: true}}},
				{Cells: []string{"Dave", "guest", "muted", "", "waiting"}, Actions: []chat.Action{
					{Label: "Unmute", Command: "unmute 3c4d"}, {Label: "Admit", Command: "admit 3c4d"},
					{Label: "Kick", Command: "kick 3c4d", Danger: true}}},
			}}}, replyOptions{Requester: "U1", Source: "who"})},
		{"who_member", renderReply(chat.Reply{Text: "2 in the meeting", Table: &chat.Table{
			Columns: []string{"Name", "Role"},
			Rows:    []chat.Row{{Cells: []string{"Alice", "host"}}, {Cells: []string{"Bob", "guest"}}},
		}}, replyOptions{Requester: "U1", Source: "who"})},
		{"ambiguous", renderReply(chat.Reply{Text: "Which Bob do you mean?", Failed: true, Choices: []chat.Action{
			{Label: "Bob Smith (guest)", Command: "mute 5e6f7a8b"}, {Label: "Bob Jones (host)", Command: "mute 77aa88bb"}}},
			replyOptions{Requester: "U1", Source: "mute bob"})},
		{"end_confirm", renderReply(chat.Reply{Confirm: &chat.Confirm{
			Prompt: "End the meeting for all 12 participants?", Command: "end confirm", Label: "End meeting"}},
			replyOptions{Requester: "U1", Source: "end"})},
		{"public_text", renderReply(chat.Reply{Text: "muted <!here>", Public: true}, replyOptions{Requester: "U1"})},
		{"status", renderStatus(chat.MeetingState{Name: "Weekly & <sync>", Present: []string{"Alice", "Bob"},
			Presenter: "Bob", Locked: true, GuestsMuted: true, Started: start, Peak: 2, Total: 2}, start.Add(10*time.Minute))},
		{"status_join", renderStatus(chat.MeetingState{Name: "Weekly", Present: []string{"Alice"}, Started: start,
			Peak: 1, Total: 1, JoinURL: "https://meet.example.com/webapp/#/?conference=weekly"}, start.Add(time.Minute))},
		{"status_recording", renderStatus(chat.MeetingState{Name: "Weekly", Present: []string{"Alice"}, Started: start,
			Peak: 1, Total: 1, RecordingSince: start.Add(2 * time.Minute), LiveSince: start.Add(5 * time.Minute)}, start.Add(10*time.Minute))},
		{"status_reply_join", renderReply(chat.Reply{Text: "Weekly sync: 2 in the meeting, locked",
			JoinURL: "https://meet.example.com/webapp/#/?conference=weekly"}, replyOptions{Requester: "U1", Source: "status"})},
		{"call", renderCall(chat.MeetingState{Name: "Weekly & <sync>"}, "R0123")},
		{"waiting", renderWaiting(&waitAlert{meeting: "Weekly sync", order: []*waiter{
			{uuid: "b1", name: "Bob"}, {uuid: "c1", name: "Carol <!here>"},
			{uuid: "d1", name: "Dave", state: wasAdmitted, by: "UHOST"}, {uuid: "e1", name: "Eve", state: leftWaiting}}})},
		{"waiting_closed", renderWaiting(&waitAlert{meeting: "Weekly sync", order: []*waiter{
			{uuid: "b1", name: "Bob", state: wasAdmitted}}})},
		{"host_wait", renderHostWait(&hostAlert{meeting: "Weekly sync", count: 3})},
		{"host_wait_started", renderHostWait(&hostAlert{meeting: "Weekly sync", count: 3, started: true})},
		{"home", message{Blocks: renderHome([]HomeMeeting{
			{Channel: general, Name: "Weekly sync", Live: true, Present: []string{"Alice", "Board room"}, Locked: true, Recording: true,
				JoinURL: "https://meet.example.com/webapp/#/?conference=weekly"},
			{Channel: chat.ChannelRef{Platform: "slack", Workspace: testTeam, Channel: "C0003"}, Name: "Retro"},
		})}},
		{"home_empty", message{Blocks: renderHome(nil)}},
		{"summary", renderStatus(chat.MeetingState{Name: "Weekly", Ended: true, Started: start, Peak: 12, Total: 30,
			Presenters: []string{"Bob", "Carol"}}, start.Add(75*time.Minute))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := goldenJSON(t, tc.msg)
			path := filepath.Join("testdata", tc.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}

func goldenJSON(t *testing.T, m message) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		Text   string          `json:"text"`
		Blocks []slackgo.Block `json:"blocks,omitempty"`
	}{m.Text, m.Blocks}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestRenderButtons checks what Slack needs from every button: a block_id on its block (or the
// press is not routed as a block action), the row's command as value, unique action ids, and a
// confirm dialog on dangerous actions.
func TestRenderButtons(t *testing.T) {
	m := renderReply(whoReply(), replyOptions{Source: "who"})
	seen := map[string]bool{}
	var values []string
	for _, b := range m.Blocks {
		ab, ok := b.(*slackgo.ActionBlock)
		if !ok {
			continue
		}
		if kind, src, ok := parseBlockID(ab.BlockID); !ok || kind != kindRow || src != "who" {
			t.Errorf("block_id %q does not say it is a row of who", ab.BlockID)
		}
		for _, e := range ab.Elements.ElementSet {
			btn := e.(*slackgo.ButtonBlockElement)
			if seen[btn.ActionID] {
				t.Errorf("action_id %q repeated", btn.ActionID)
			}
			seen[btn.ActionID] = true
			values = append(values, btn.Value)
			if strings.HasPrefix(btn.Value, "kick") != (btn.Confirm != nil && btn.Style == slackgo.StyleDanger) {
				t.Errorf("button %q: danger style and confirm dialog only on kicks", btn.Value)
			}
		}
	}
	want := []string{"mute 1a2b3c4d", "kick 1a2b3c4d", "unmute 5e6f7a8b", "kick 5e6f7a8b", "admit 9c0d1e2f"}
	if diff := cmp.Diff(want, values); diff != "" {
		t.Errorf("button values (-want +got):\n%s", diff)
	}
}

// TestRenderLimits: a who list of 300 stays within Slack's limits (50 blocks, 3,000 characters a
// section) and says how many rows it left out.
func TestRenderLimits(t *testing.T) {
	for _, withActions := range []bool{true, false} {
		t.Run(fmt.Sprintf("actions=%v", withActions), func(t *testing.T) {
			tab := &chat.Table{Columns: []string{"Name", "Role"}}
			for i := range 300 {
				row := chat.Row{Cells: []string{fmt.Sprintf("Participant number %03d with a long name", i), "guest"}}
				if withActions {
					row.Actions = []chat.Action{{Label: "Mute", Command: fmt.Sprintf("mute %08x", i)}}
				}
				tab.Rows = append(tab.Rows, row)
			}
			m := renderReply(chat.Reply{Text: strings.Repeat("long help line\n", 400), Table: tab}, replyOptions{Source: "who"})
			if len(m.Blocks) > maxBlocks {
				t.Errorf("%d blocks, Slack allows %d", len(m.Blocks), maxBlocks)
			}
			shown := 0
			for _, b := range m.Blocks {
				if s, ok := b.(*slackgo.SectionBlock); ok {
					if n := utf8.RuneCountInString(s.Text.Text); n > maxSectionText {
						t.Errorf("section of %d characters", n)
					}
					shown += strings.Count(s.Text.Text, "Participant number")
				}
			}
			last, ok := m.Blocks[len(m.Blocks)-1].(*slackgo.ContextBlock)
			if !ok {
				if shown != 300 {
					t.Errorf("%d rows shown and no note on the %d left out", shown, 300-shown)
				}
				return
			}
			note := last.ContextElements.Elements[0].(*slackgo.TextBlockObject).Text
			if want := fmt.Sprintf("…and %d more not shown", 300-shown); note != want {
				t.Errorf("note %q, want %q", note, want)
			}
		})
	}
}

// TestEscape: text from users never becomes a mention, a link or a broken entity.
func TestEscape(t *testing.T) {
	cases := map[string]string{
		"<!channel>":           "&lt;!channel&gt;",
		"<@U123|bob>":          "&lt;@U123|bob&gt;",
		"a & b":                "a &amp; b",
		"<https://x.test|hi>":  "&lt;https://x.test|hi&gt;",
		"plain café 会议":        "plain café 会议",
		"already &amp; quoted": "already &amp;amp; quoted",
	}
	for in, want := range cases {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	long := escape(strings.Repeat("&", 10))
	if got := truncateEscaped(long, 8); got != "&amp;…" {
		t.Errorf("truncateEscaped cut an entity: %q", got)
	}
}

// TestWaitingAlertLimits: 60 people with long names stay within Slack's limits (50 blocks, 3,000
// characters a section), and the alert says how many it does not list.
func TestWaitingAlertLimits(t *testing.T) {
	wa := &waitAlert{meeting: strings.Repeat("Weekly ", 1000)}
	for i := range 60 {
		wa.order = append(wa.order, &waiter{uuid: fmt.Sprintf("u%d", i), name: strings.Repeat("&", 2000)})
	}
	for _, m := range []message{renderWaiting(wa), renderHostWait(&hostAlert{meeting: wa.meeting, count: 60})} {
		if len(m.Blocks) > maxBlocks {
			t.Errorf("%d blocks", len(m.Blocks))
		}
		b, _ := json.Marshal(m.Blocks)
		var raw []struct {
			Text *struct{ Text string } `json:"text"`
		}
		_ = json.Unmarshal(b, &raw)
		for _, blk := range raw {
			if blk.Text != nil && utf8.RuneCountInString(blk.Text.Text) > maxSectionText {
				t.Errorf("section of %d characters", utf8.RuneCountInString(blk.Text.Text))
			}
		}
	}
	if !strings.Contains(goldenString(t, renderWaiting(wa)), "…and 40 more") {
		t.Error("the alert does not say how many it leaves out")
	}
}

func goldenString(t *testing.T, m message) string { return string(goldenJSON(t, m)) }
