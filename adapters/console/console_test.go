package console

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

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
