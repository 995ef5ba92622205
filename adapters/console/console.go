// Package console is the chat adapter for a terminal: it reads one command a line from an input
// stream and writes replies and meeting notifications as plain lines to an output stream.
//
// It serves the demo (`go run ./cmd/bot`), `bot console` against a configured platform, and the
// scripted end-to-end tests. Everything typed runs in one channel, console:console, with the rights
// of a channel admin (and so of a host): whoever holds the terminal runs the bot.
//
// Display names are data: control characters and text-reordering (bidi) characters in anything
// shown are replaced, so a participant cannot move the cursor or clear the screen of the person
// at the terminal; and a name in a table, a choice or a confirmation is shown on one line, so it
// cannot add a row of its own. Replies and notifications keep the line breaks the core and the
// relay put in them.
package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/meetbot/meetbot/chat"
)

// Channel is the one channel the console adapter serves.
var Channel = chat.ChannelRef{Platform: "console", Channel: "console"}

// User is who types at the console.
var User = chat.UserRef{ID: "console", Name: "console"}

// maxLine bounds one input line; a longer line is refused rather than split.
const maxLine = 64 * 1024

// Adapter runs commands typed on in and writes what the bot says to out. It implements chat.Poster
// for the console channel, and its methods are safe for concurrent use.
type Adapter struct {
	in      io.Reader
	handler chat.Handler

	mu      sync.Mutex // serialises writes to out and guards choices
	out     io.Writer
	choices []chat.Action // the last reply's choices, so typing "2" picks the second
}

// New returns an adapter reading from in and writing to out, handing commands to h.
func New(in io.Reader, out io.Writer, h chat.Handler) *Adapter {
	return &Adapter{in: in, out: out, handler: h}
}

// Run reads commands until the input ends, then returns nil; or until ctx is done, then returns
// ctx's error. A line may carry the "/meet " or "!meet " prefix or not; blank lines and lines
// starting with "#" are skipped.
func (a *Adapter) Run(ctx context.Context) error {
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(a.in)
		sc.Buffer(make([]byte, 0, 4096), maxLine)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if err != nil {
				return fmt.Errorf("read console input: %w", err)
			}
			return nil
		case line := <-lines:
			text, ok := commandText(line)
			if !ok {
				continue
			}
			text = a.pickChoice(text)
			reply := a.handler.Handle(ctx, chat.Request{
				Channel: Channel,
				User:    User,
				Rights:  chat.Admin,
				Text:    text,
			})
			a.write(a.render(reply))
		}
	}
}

// commandText strips the optional chat prefix and reports whether anything is left to run.
func commandText(line string) (string, bool) {
	text := strings.TrimSpace(line)
	if text == "" || strings.HasPrefix(text, "#") {
		return "", false
	}
	for _, prefix := range []string{"/meet", "!meet"} {
		rest, ok := strings.CutPrefix(text, prefix)
		if !ok {
			continue
		}
		if rest == "" {
			return "help", true
		}
		if r, _ := utf8.DecodeRuneInString(rest); unicode.IsSpace(r) {
			return strings.TrimSpace(rest), true
		}
	}
	return text, true
}

// pickChoice turns a bare number into the matching choice of the last reply that offered some.
func (a *Adapter) pickChoice(text string) string {
	n, err := strconv.Atoi(text)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil || n < 1 || n > len(a.choices) {
		return text
	}
	cmd := a.choices[n-1].Command
	a.choices = nil
	return cmd
}

// Post writes a notification for the console channel. Notifications for other channels are not
// the console's to show.
func (a *Adapter) Post(ctx context.Context, ch chat.ChannelRef, n chat.Notification) error {
	if ch != Channel {
		return fmt.Errorf("console cannot post to %s: %w", ch, chat.ErrChannelGone)
	}
	var b strings.Builder
	for _, line := range strings.Split(Sanitize(n.Text), "\n") {
		b.WriteString("* ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	a.write(b.String())
	return nil
}

// Rights says what the person at the console may do: everything.
func (a *Adapter) Rights(ctx context.Context, ch chat.ChannelRef, user chat.UserRef) (chat.Rights, error) {
	if ch != Channel {
		return chat.Anyone, errors.New("console knows only its own channel")
	}
	return chat.Admin, nil
}

func (a *Adapter) write(s string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	io.WriteString(a.out, s) //nolint:errcheck // a closed terminal leaves nobody to tell
}

// render lays a reply out as plain lines and remembers its choices.
func (a *Adapter) render(r chat.Reply) string {
	var b strings.Builder
	if r.Text != "" {
		b.WriteString(Sanitize(r.Text))
		b.WriteByte('\n')
	}
	if r.Table != nil {
		writeTable(&b, r.Table)
	}
	if len(r.Choices) > 0 {
		for i, c := range r.Choices {
			fmt.Fprintf(&b, "  %d. %s  (%s)\n", i+1, OneLine(c.Label), OneLine(c.Command))
		}
		b.WriteString("Type a number to choose.\n")
	}
	if r.Confirm != nil {
		fmt.Fprintf(&b, "%s Type %q to go ahead.\n", OneLine(r.Confirm.Prompt), r.Confirm.Command)
	}
	a.mu.Lock()
	a.choices = r.Choices
	a.mu.Unlock()
	return b.String()
}

// writeTable aligns cells in columns by their display width.
func writeTable(b *strings.Builder, t *chat.Table) {
	widths := make([]int, len(t.Columns))
	grow := func(cells []string) {
		for i, c := range cells {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], displayWidth(OneLine(c)))
		}
	}
	grow(t.Columns)
	for _, r := range t.Rows {
		grow(r.Cells)
	}
	line := func(cells []string) {
		var l strings.Builder
		for i, c := range cells {
			c = OneLine(c)
			l.WriteString(c)
			if i < len(cells)-1 {
				l.WriteString(strings.Repeat(" ", widths[i]-displayWidth(c)+2))
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	line(t.Columns)
	for _, r := range t.Rows {
		line(r.Cells)
	}
}

// displayWidth counts East Asian wide characters as two columns, so CJK names line up.
func displayWidth(s string) int {
	w := 0
	for _, r := range s {
		if unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hangul, r) || unicode.Is(unicode.Hiragana, r) ||
			unicode.Is(unicode.Katakana, r) || (r >= 0xFF01 && r <= 0xFF60) {
			w += 2
		} else {
			w++
		}
	}
	return w
}

// Sanitize replaces control characters other than newline and tab, and the invisible characters
// that reorder text, with U+FFFD, so text from meeting participants cannot steer the terminal or
// disguise itself. Line and paragraph separators become newlines, which is how they read.
func Sanitize(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == 0x2028 || r == 0x2029:
			return '\n'
		case unicode.IsControl(r) || isBidiControl(r):
			return utf8.RuneError
		}
		return r
	}, s)
}

// OneLine is Sanitize for one field shown inside a line (a name in a table, a choice, a prompt):
// line breaks and tabs become spaces, so the field cannot start a line of its own.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t' || r == '\v' || r == '\f' || r == 0x85 || r == 0x2028 || r == 0x2029:
			return ' '
		case unicode.IsControl(r) || isBidiControl(r):
			return utf8.RuneError
		}
		return r
	}, s)
}

// isBidiControl reports the invisible characters that reorder the text around them.
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}
