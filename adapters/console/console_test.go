package console

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/meetbot/meetbot/chat"
)

// recorder answers every request with a fixed reply and keeps what it was asked.
type recorder struct {
	mu    sync.Mutex
	got   []chat.Request
	reply func(chat.Request) chat.Reply
}

func (r *recorder) Handle(ctx context.Context, req chat.Request) chat.Reply {
	r.mu.Lock()
	r.got = append(r.got, req)
	r.mu.Unlock()
	if r.reply != nil {
		return r.reply(req)
	}
	return chat.Reply{Text: "ok " + req.Text}
}

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.got {
		out = append(out, q.Text)
	}
	return out
}

func TestRunStripsPrefixesAndSkipsBlankLines(t *testing.T) {
	in := strings.NewReader("/meet mute Bob\n\n   \n# a comment\n!meet   lock  \nwho\n/meet\n/meeting\n")
	var out strings.Builder
	rec := &recorder{}
	if err := New(in, &out, rec).Run(context.Background()); err != nil {
		t.Fatalf("Run at end of input = %v, want nil", err)
	}
	want := []string{"mute Bob", "lock", "who", "help", "/meeting"}
	if diff := cmp.Diff(want, rec.texts()); diff != "" {
		t.Errorf("commands handed to the core (-want +got):\n%s", diff)
	}
	for _, q := range rec.got {
		if q.Channel != Channel || q.Rights != chat.Admin || q.User != User {
			t.Errorf("request %q came from %v as %v with %v; want the console channel, user and admin rights", q.Text, q.Channel, q.User, q.Rights)
		}
	}
}

func TestNumberPicksChoiceOfLastReply(t *testing.T) {
	rec := &recorder{reply: func(q chat.Request) chat.Reply {
		if q.Text == "mute bo" {
			return chat.Reply{Text: "Which Bo?", Choices: []chat.Action{
				{Label: "Bob (guest)", Command: "mute 1111"},
				{Label: "Bo Li (chair)", Command: "mute 2222"},
			}}
		}
		return chat.Reply{Text: "done: " + q.Text}
	}}
	var out strings.Builder
	in := strings.NewReader("mute bo\n2\n2\n")
	if err := New(in, &out, rec).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The second "2" has no choices left to pick from and goes to the core as typed.
	want := []string{"mute bo", "mute 2222", "2"}
	if diff := cmp.Diff(want, rec.texts()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	if !strings.Contains(out.String(), "  2. Bo Li (chair)  (mute 2222)") {
		t.Errorf("choices not listed by number:\n%s", out.String())
	}
}

func TestRenderTableAlignsWideNames(t *testing.T) {
	a := New(nil, nil, nil)
	got := a.render(chat.Reply{Text: "2 people", Table: &chat.Table{
		Columns: []string{"name", "role"},
		Rows: []chat.Row{
			{Cells: []string{"张伟", "chair"}},
			{Cells: []string{"Bob", "guest"}},
		},
	}})
	want := "2 people\nname  role\n张伟  chair\nBob   guest\n"
	if got != want {
		t.Errorf("render =\n%s\nwant\n%s", got, want)
	}
}

func TestRenderConfirmShowsCommandToType(t *testing.T) {
	a := New(nil, nil, nil)
	got := a.render(chat.Reply{Confirm: &chat.Confirm{Prompt: "End the meeting for all 3 people?", Command: "end confirm"}})
	if !strings.Contains(got, `Type "end confirm" to go ahead.`) {
		t.Errorf("confirmation does not say what to type: %q", got)
	}
}

func TestPostSanitizesNamesAndRefusesOtherChannels(t *testing.T) {
	var out strings.Builder
	a := New(nil, &out, nil)
	ctx := context.Background()
	if err := a.Post(ctx, Channel, chat.Notification{Text: "Eve\x1b[2J joined (guest)"}); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "* Eve\uFFFD[2J joined (guest)\n"; got != want {
		t.Errorf("posted %q, want %q", got, want)
	}
	other := chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C1"}
	if err := a.Post(ctx, other, chat.Notification{Text: "x"}); err == nil {
		t.Error("Post to a Slack channel succeeded; want chat.ErrChannelGone")
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, w := io.Pipe()
	defer w.Close()
	if err := New(r, &strings.Builder{}, &recorder{}).Run(ctx); err != context.Canceled {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
}

func FuzzCommandText(f *testing.F) {
	for _, s := range []string{"/meet mute Bob", "!meet", "  /meet\u3000lock", "#x", "", "/meetx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		text, ok := commandText(line)
		if ok && strings.TrimSpace(text) == "" {
			t.Errorf("commandText(%q) = %q, true: an empty command", line, text)
		}
	})
}

// TestHostileNamesStayOnTheirLine: names with line breaks, tabs, terminal escapes or bidi
// overrides in a who table, a choice or a confirmation stay on their own row and show no
// control character. Before, a newline in a name added a fake row to the table.
func TestHostileNamesStayOnTheirLine(t *testing.T) {
	names := []string{"x\n:lock: Locked", "Eve\r\nMallory  host", "Tab\there", "\x1b[2Jclear", "\u202Egnp.exe", "*bold* <@U1>"}
	tab := &chat.Table{Columns: []string{"name", "role"}}
	for _, n := range names {
		tab.Rows = append(tab.Rows, chat.Row{Cells: []string{n, "guest"}})
	}
	a := New(nil, nil, nil)
	got := a.render(chat.Reply{Text: "6 people", Table: tab,
		Choices: []chat.Action{{Label: names[0], Command: "kick " + names[1]}},
		Confirm: &chat.Confirm{Prompt: "Kick " + names[0] + "?", Command: "kick x confirm"}})
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	// text, header, one row per name, one choice, the choice hint, the confirmation
	if want := 2 + len(names) + 3; len(lines) != want {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), want, got)
	}
	for i, n := range names {
		row := lines[2+i]
		if !strings.HasSuffix(row, "guest") {
			t.Errorf("row %d %q does not end in its role: the name %q broke the row", i, row, n)
		}
	}
	for _, r := range got {
		if r != '\n' && (unicode.IsControl(r) || isBidiControl(r)) {
			t.Errorf("output holds control character %U:\n%q", r, got)
		}
	}
	if !strings.Contains(got, "*bold* <@U1>") {
		t.Errorf("plain-text markup should show as typed on a terminal:\n%s", got)
	}
}

func FuzzOneLine(f *testing.F) {
	for _, s := range []string{"x\n:lock: Locked", "a\r\nb", "\x1b[2J", "\u202Eabc", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range OneLine(s) {
			if unicode.IsControl(r) || isBidiControl(r) || r == 0x2028 || r == 0x2029 {
				t.Errorf("OneLine(%q) keeps %U", s, r)
			}
		}
		for _, r := range Sanitize(s) {
			if (unicode.IsControl(r) && r != '\n' && r != '\t') || isBidiControl(r) {
				t.Errorf("Sanitize(%q) keeps %U", s, r)
			}
		}
	})
}
