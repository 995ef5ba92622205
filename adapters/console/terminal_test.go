package console

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/meetbot/meetbot/chat"
)

// TestAnswerComesBeforeTheNotificationItCauses: a dial makes someone join while the command is
// still being answered; the console prints "dialling …" first and the join after it.
func TestAnswerComesBeforeTheNotificationItCauses(t *testing.T) {
	var out strings.Builder
	var a *Adapter
	h := chat.HandlerFunc(func(ctx context.Context, req chat.Request) chat.Reply {
		// The join is posted by the relay while the platform call is still answering.
		a.Post(ctx, Channel, chat.Notification{Text: "sip:bob@example.com joined (guest)"})
		return chat.Reply{Text: "dialling sip:bob@example.com over sip", Public: true}
	})
	a = New(strings.NewReader("dial sip:bob@example.com\n"), &out, h)
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := "dialling sip:bob@example.com over sip\n* sip:bob@example.com joined (guest)\n"
	if out.String() != want {
		t.Errorf("console printed\n%q\nwant\n%q", out.String(), want)
	}
}

func TestNarrowTableDoesNotWrapMidColumn(t *testing.T) {
	tbl := &chat.Table{Columns: []string{"Name", "Role", "Status"}, Rows: []chat.Row{
		{Cells: []string{"Alexandra Konstantinopoulou-Smith", "guest", "in meeting"}},
		{Cells: []string{"张伟", "host", "in meeting"}},
	}}
	var b strings.Builder
	writeTable(&b, tbl, 40)
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if w := displayWidth(line); w > 39 {
			t.Errorf("row %q is %d columns wide in a 40-column terminal", line, w)
		}
		if !strings.HasSuffix(line, "Status") && !strings.HasSuffix(line, "in meeting") {
			t.Errorf("row %q lost its last column", line)
		}
	}
	if !strings.Contains(b.String(), "…") {
		t.Errorf("the long name was not shortened:\n%s", b.String())
	}
	b.Reset()
	writeTable(&b, tbl, 0)
	if !strings.Contains(b.String(), "Alexandra Konstantinopoulou-Smith") {
		t.Errorf("an unbounded table cut a name:\n%s", b.String())
	}
}

// ptyScreen collects what the console writes to a pseudo-terminal.
type ptyScreen struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	more chan struct{}
}

func (s *ptyScreen) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(p)
	s.mu.Unlock()
	select {
	case s.more <- struct{}{}:
	default:
	}
	return len(p), nil
}

// waitFor waits until the screen shows want after the first skip bytes, and returns where it ends.
func (s *ptyScreen) waitFor(t *testing.T, skip int, want string) int {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		got := s.buf.String()
		s.mu.Unlock()
		if i := strings.Index(got[min(skip, len(got)):], want); i >= 0 {
			return skip + i + len(want)
		}
		select {
		case <-s.more:
		case <-deadline:
			t.Fatalf("the terminal never showed %q; it shows:\n%q", want, got)
		}
	}
}

// TestTerminalEditsRecallsAndCompletes drives the console through a real pseudo-terminal as a
// person would: Tab completes a command word and a participant's name, the up arrow recalls the
// last command instead of printing ^[[A, history survives a restart, and a line that carried a PIN
// is not kept.
func TestTerminalEditsRecallsAndCompletes(t *testing.T) {
	histPath := filepath.Join(t.TempDir(), "console_history")
	var mu sync.Mutex
	var got []string
	h := chat.HandlerFunc(func(ctx context.Context, req chat.Request) chat.Reply {
		mu.Lock()
		got = append(got, req.Text)
		mu.Unlock()
		switch {
		case strings.HasPrefix(req.Text, "link"):
			return chat.Reply{Text: "linked", CarriedSecret: true}
		case req.Text == "who":
			return chat.Reply{Table: &chat.Table{Columns: []string{"Name", "Role"}, Rows: []chat.Row{
				{Cells: []string{"Alice Martin", "host"}}, {Cells: []string{"张伟", "guest"}},
			}}}
		}
		return chat.Reply{Text: "done: " + req.Text}
	})
	session := func(keys []string, waits []string) {
		t.Helper()
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pseudo-terminal here: %v", err)
		}
		defer ptmx.Close()
		pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80})
		screen := &ptyScreen{more: make(chan struct{}, 1)}
		copied := make(chan struct{})
		go func() { defer close(copied); ioCopy(screen, ptmx) }()
		a := NewWithOptions(tty, tty, h, Options{HistoryPath: histPath, Commands: []string{"link", "lock", "mute", "unmute", "who"}})
		done := make(chan error, 1)
		go func() { done <- a.Run(context.Background()) }()
		pos := screen.waitFor(t, 0, Prompt)
		for i, k := range keys {
			ptmx.WriteString(k)
			pos = screen.waitFor(t, pos, waits[i])
		}
		ptmx.WriteString("\x04") // Ctrl-D on an empty line ends the console
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Ctrl-D did not end the console")
		}
		tty.Close()
		screen.mu.Lock()
		defer screen.mu.Unlock()
		if s := screen.buf.String(); strings.Contains(s, "^[[A") || strings.Contains(s, "^[") {
			t.Errorf("the terminal shows raw escape sequences:\n%q", s)
		}
	}
	session(
		[]string{"link demo 1234\r", "wh\t", "\r", "mute Al\t", "\r", "\x1b[A", "\r"},
		[]string{"linked", "who ", "Alice Martin", "mute Alice Martin ", "done: mute Alice Martin", "mute Alice Martin", "done: mute Alice Martin"},
	)
	mu.Lock()
	want := []string{"link demo 1234", "who", "mute Alice Martin", "mute Alice Martin"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the core was handed %q, want %q", got, want)
	}
	got = nil
	mu.Unlock()

	// A new run recalls the last run's commands; the one with the PIN was never written down.
	session([]string{"\x1b[A\x1b[A", "\r"}, []string{"who", "Alice Martin"})
	b, err := os.ReadFile(histPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "1234") || !strings.Contains(string(b), "mute Alice Martin") {
		t.Errorf("history file:\n%s", b)
	}
}

func ioCopy(dst *ptyScreen, src *os.File) {
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			dst.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// TestWideTerminalShowsDetails: a terminal wide enough shows the detail columns (when someone
// joined, over what); a narrow one and a pipe show the essential ones only.
func TestWideTerminalShowsDetails(t *testing.T) {
	tbl := &chat.Table{Columns: []string{"Name", "Role", "Joined", "Via"}, Details: 2, Rows: []chat.Row{
		{Cells: []string{"Alice Martin", "host", "14:02", "webrtc"}},
		{Cells: []string{"张伟", "guest", "14:05", "sip"}},
	}}
	render := func(width int) string {
		var b strings.Builder
		writeTable(&b, tbl, width)
		return b.String()
	}
	if got := render(120); !strings.Contains(got, "Joined") || !strings.Contains(got, "webrtc") {
		t.Errorf("a 120-column terminal left the details out:\n%s", got)
	}
	for _, width := range []int{0, 24} {
		if got := render(width); strings.Contains(got, "Joined") || strings.Contains(got, "sip") || !strings.Contains(got, "guest") {
			t.Errorf("width %d showed the details or lost an essential column:\n%s", width, got)
		}
	}
}
