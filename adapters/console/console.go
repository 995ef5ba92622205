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
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
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
//
// When in and out are an interactive terminal, lines are edited in place, with history (kept in
// Options.HistoryPath) and Tab completion of command words and participant names; otherwise
// (pipes, files, tests) plain lines are read.
type Adapter struct {
	in      io.Reader
	handler chat.Handler
	opts    Options

	mu      sync.Mutex // serialises writes to out and guards what follows
	out     io.Writer
	width   func() int    // the output's columns; 0 when unbounded
	choices []chat.Action // the last reply's choices, so typing "2" picks the second
	names   []string      // who the console last saw in the meeting, for completion
	// While a command runs, notifications wait in held, so the command's answer comes first
	// ("dialling …" before "* … joined").
	handling bool
	held     []string
}

// New returns an adapter reading from in and writing to out, handing commands to h.
func New(in io.Reader, out io.Writer, h chat.Handler) *Adapter {
	return NewWithOptions(in, out, h, Options{})
}

// NewWithOptions is New with history and completion settings for a terminal.
func NewWithOptions(in io.Reader, out io.Writer, h chat.Handler, opts Options) *Adapter {
	return &Adapter{in: in, out: out, handler: h, opts: opts, width: func() int { return 0 }}
}

// Run reads commands until the input ends (Ctrl-D or Ctrl-C at a terminal), then returns nil; or
// until ctx is done, then returns ctx's error. A line may carry the "/meet " or "!meet " prefix
// or not; blank lines and lines starting with "#" are skipped.
func (a *Adapter) Run(ctx context.Context) error {
	var src lineReader = newPlainLines(a.in)
	if fin, fout, ok := terminalFiles(a.in, a.out); ok {
		tl, err := newTerminalLines(fin, fout, a.opts, a.knownNames)
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.out, a.width = tl.t, tl.Width // the terminal redraws the prompt around what is written
		a.mu.Unlock()
		src = tl
	}
	defer src.Close()

	type read struct {
		line string
		err  error
	}
	lines := make(chan read)
	next := make(chan bool) // the line was handled: read the next one
	go func() {
		for {
			line, err := src.ReadLine()
			select {
			case lines <- read{line, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			select {
			case <-next:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-lines:
			if errors.Is(r.err, io.EOF) {
				return nil
			}
			if r.err != nil {
				return fmt.Errorf("read console input: %w", r.err)
			}
			if text, ok := commandText(r.line); ok {
				reply := a.run(ctx, a.pickChoice(text))
				src.Done(r.line, !reply.CarriedSecret)
			}
			select {
			case next <- true:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// run hands one command to the core and writes its answer, then what was posted meanwhile.
func (a *Adapter) run(ctx context.Context, text string) chat.Reply {
	a.mu.Lock()
	a.handling = true
	a.mu.Unlock()
	reply := a.handler.Handle(ctx, chat.Request{
		Channel: Channel,
		User:    User,
		Rights:  chat.Admin,
		Text:    text,
	})
	out := a.render(reply)
	a.mu.Lock()
	defer a.mu.Unlock()
	io.WriteString(a.out, out) //nolint:errcheck // a closed terminal leaves nobody to tell
	for _, s := range a.held {
		io.WriteString(a.out, s) //nolint:errcheck // as above
	}
	a.held, a.handling = nil, false
	return reply
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
	// Files are written before taking the lock: no lock is held across the disk.
	for _, f := range n.Files {
		b.WriteString("* ")
		b.WriteString(a.saveFile(f))
		b.WriteByte('\n')
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if n.Meeting.Present != nil || n.Meeting.Ended {
		a.names = slices.Clone(n.Meeting.Present)
	}
	if a.handling {
		a.held = append(a.held, b.String())
		return nil
	}
	io.WriteString(a.out, b.String()) //nolint:errcheck // a closed terminal leaves nobody to tell
	return nil
}

// knownNames returns who the console last saw in the meeting.
func (a *Adapter) knownNames() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.names)
}

// Rights says what the person at the console may do: everything.
func (a *Adapter) Rights(ctx context.Context, ch chat.ChannelRef, user chat.UserRef) (chat.Rights, error) {
	if ch != Channel {
		return chat.Anyone, errors.New("console knows only its own channel")
	}
	return chat.Admin, nil
}

// render lays a reply out as plain lines and remembers its choices.
func (a *Adapter) render(r chat.Reply) string {
	var b strings.Builder
	if r.Text != "" {
		b.WriteString(Sanitize(r.Text))
		b.WriteByte('\n')
	}
	a.mu.Lock()
	width := a.width()
	a.mu.Unlock()
	if r.Table != nil {
		writeTable(&b, r.Table, width)
		if len(r.Table.Columns) > 0 && strings.EqualFold(r.Table.Columns[0], "name") {
			names := make([]string, 0, len(r.Table.Rows))
			for _, row := range r.Table.Rows {
				if len(row.Cells) > 0 {
					names = append(names, row.Cells[0])
				}
			}
			a.mu.Lock()
			a.names = names
			a.mu.Unlock()
		}
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

// writeTable aligns cells in columns by their display width. With a width (the terminal's
// columns), the widest column is cut short with "…" until each row fits on one line, so a narrow
// terminal never wraps a row mid-column.
func writeTable(b *strings.Builder, t *chat.Table, width int) {
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
	// Detail columns are shown only at a terminal wide enough for the whole table; a pipe or a
	// file gets the same columns whatever it is, so scripts can rely on them.
	shown := len(widths)
	if width <= 0 || rowWidth(widths) > width-1 {
		shown = min(shown, t.Essential())
	}
	widths = widths[:shown]
	if width > 0 {
		fitColumns(widths, width)
	}
	line := func(cells []string) {
		cells = cells[:min(len(cells), shown)]
		var l strings.Builder
		for i, c := range cells {
			c = truncate(OneLine(c), widths[i])
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

// minColumn is the narrowest fitColumns makes a column: enough for a few letters and "…".
const minColumn = 6

// fitColumns narrows the widest columns until a row (with two spaces between columns, and one
// column left free so the terminal does not wrap at its edge) fits in width.
func fitColumns(widths []int, width int) {
	for rowWidth(widths) > width-1 {
		widest := 0
		for i, w := range widths {
			if w > widths[widest] {
				widest = i
			}
		}
		if widths[widest] <= minColumn {
			return // as narrow as it sensibly gets; the terminal wraps
		}
		widths[widest]--
	}
}

// rowWidth is how many columns a row of cells this wide takes, two spaces between cells.
func rowWidth(widths []int) int {
	n := 2 * max(0, len(widths)-1)
	for _, w := range widths {
		n += w
	}
	return n
}

// truncate cuts s to at most w display columns, ending in "…" when cut.
func truncate(s string, w int) string {
	if displayWidth(s) <= w {
		return s
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		rw := displayWidth(string(r))
		if used+rw > w-1 {
			break
		}
		b.WriteRune(r)
		used += rw
	}
	b.WriteString("…")
	return b.String()
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
func OneLine(s string) string { return chat.OneLine(s) }

// isBidiControl reports the invisible characters that reorder the text around them.
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}
