package matrix

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meetbot/meetbot/chat"
)

func TestRenderReply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply chat.Reply
		want  message
	}{
		{
			name:  "text escaped with line breaks",
			reply: chat.Reply{Text: "muted <Bob> & co\nnext line"},
			want:  message{Plain: "muted <Bob> & co\nnext line", HTML: "<p>muted &lt;Bob&gt; &amp; co<br>next line</p>"},
		},
		{
			name: "table",
			reply: chat.Reply{Text: "2 people", Table: &chat.Table{
				Columns: []string{"Name", "Role"},
				Rows:    []chat.Row{{Cells: []string{"Alice <3", "host"}}, {Cells: []string{"Bob", "guest"}}},
			}},
			want: message{
				Plain: "2 people\nName       Role\nAlice \\<3  host\nBob        guest",
				HTML:  "<p>2 people</p><table><thead><tr><th>Name</th><th>Role</th></tr></thead><tbody><tr><td>Alice &lt;3</td><td>host</td></tr><tr><td>Bob</td><td>guest</td></tr></tbody></table>",
			},
		},
		{
			name: "choices numbered",
			reply: chat.Reply{Text: "Which Bob?", Choices: []chat.Action{
				{Label: "Bob Smith (guest)", Command: "mute 3f2a"}, {Label: "Bob Jones", Command: "mute 9c1d"},
			}},
			want: message{
				Plain: "Which Bob?\n1. Bob Smith (guest) — !meet 1\n2. Bob Jones — !meet 2\nSend !meet <number> to pick one.",
				HTML:  "<p>Which Bob?</p><ol><li>Bob Smith (guest) — <code>!meet 1</code></li><li>Bob Jones — <code>!meet 2</code></li></ol><p>Send <code>!meet &lt;number&gt;</code> to pick one.</p>",
			},
		},
		{
			name:  "confirm",
			reply: chat.Reply{Confirm: &chat.Confirm{Prompt: "End the meeting for all 12?", Command: "end confirm", Label: "End meeting"}},
			want: message{
				Plain: "End the meeting for all 12?\nSend !meet confirm to end meeting; do nothing to cancel.",
				HTML:  "<p>End the meeting for all 12?</p><p>Send <code>!meet confirm</code> to end meeting; do nothing to cancel.</p>",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, renderReply(tc.reply)); diff != "" {
				t.Errorf("renderReply (-want +got):\n%s", diff)
			}
		})
	}
}

// A participant named "@room <b>x</b>" must not ping the room nor inject markup.
func TestRenderNotificationNeverMentions(t *testing.T) {
	m := renderNotification(chat.Notification{Text: "@room <b>x</b> joined", Kinds: []chat.NoticeKind{chat.Joined}})
	if strings.Contains(m.Plain, "@room") {
		t.Errorf("plain body %q still says @room", m.Plain)
	}
	if want := "@" + wordJoiner + "room <b>x</b> joined"; m.Plain != want {
		t.Errorf("plain body %q, want %q", m.Plain, want)
	}
	if want := "@room &lt;b&gt;x&lt;/b&gt; joined"; m.HTML != want {
		t.Errorf("HTML body %q, want %q", m.HTML, want)
	}
	if c := noticeContent(m); c.Mentions == nil || len(c.Mentions.UserIDs) != 0 || c.Mentions.Room {
		t.Errorf("mentions %+v, want empty", c.Mentions)
	}
}

func TestDefuseAnyCase(t *testing.T) {
	got := defuse("@ROOM and @Room and @roomy")
	if strings.Contains(strings.ToLower(got), "@room") {
		t.Errorf("defuse left a room mention: %q", got)
	}
}

// FuzzRenderNotification checks that no participant name can inject markup or a room mention.
func FuzzRenderNotification(f *testing.F) {
	for _, s := range []string{"@room <b>x</b> joined", "Alice & Bob\nleft", "<a href='https://matrix.to/#/@x:y'>x</a>", "@r\u2060oom", "\xff@ROOM"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m := renderNotification(chat.Notification{Text: text})
		if strings.Contains(strings.ToLower(m.Plain), "@room") {
			t.Fatalf("plain %q keeps a room mention", m.Plain)
		}
		if rest := strings.ReplaceAll(m.HTML, "<br>", ""); strings.ContainsAny(rest, "<>") {
			t.Fatalf("HTML %q has markup of its own", m.HTML)
		}
	})
}

func TestWaitingNoticeNamesTheAdmitCommand(t *testing.T) {
	waiting := func(names ...string) chat.Notification {
		n := chat.Notification{Text: "Bob Smith is waiting to be admitted", Kinds: []chat.NoticeKind{chat.Waiting}}
		n.Meeting.People = []chat.Person{{Name: "Alice", Role: "host"}}
		for _, name := range names {
			n.Meeting.People = append(n.Meeting.People, chat.Person{Name: name, Waiting: true})
		}
		return n
	}
	if got := renderNotification(waiting("Bob Smith")).Plain; !strings.HasSuffix(got, "\nA host can let them in: !meet admit Bob Smith") {
		t.Errorf("one waiting: %q", got)
	}
	if got := renderNotification(waiting("Bob Smith", "Carol")).Plain; !strings.Contains(got, "!meet admit all") {
		t.Errorf("two waiting: %q", got)
	}
	if got := renderNotification(waiting()).Plain; strings.Contains(got, "!meet") {
		t.Errorf("a hint with no one waiting: %q", got)
	}
	off := waiting("Bob Smith")
	off.NoWaitingAlerts = true
	if got := renderNotification(off).Plain; strings.Contains(got, "!meet") {
		t.Errorf("a hint with waiting alerts off: %q", got)
	}
	joined := chat.Notification{Text: "Dana joined", Kinds: []chat.NoticeKind{chat.Joined}}
	joined.Meeting.People = []chat.Person{{Name: "Bob", Waiting: true}}
	if got := renderNotification(joined).Plain; got != "Dana joined" {
		t.Errorf("a join while someone waits: %q", got)
	}
}
