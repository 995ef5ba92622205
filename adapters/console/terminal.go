package console

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/term"
)

// Prompt is what the console shows before each command at a terminal.
const Prompt = "meet> "

// historyLimit bounds the lines kept in memory and read back from the history file.
const historyLimit = 500

// Options tunes an Adapter beyond its streams and handler.
type Options struct {
	// HistoryPath is the file that keeps commands typed at a terminal across runs; empty keeps
	// them for this run only. A command that carried a secret (a PIN) is never kept.
	HistoryPath string
	// Commands are the command words Tab completes as the first word of a line.
	Commands []string
	// FilesDir is the folder a notification's files (slide snapshots, attendance reports) are
	// written to, their paths printed; empty writes none and says so.
	FilesDir string
}

// terminalFiles returns in and out as the files of one interactive terminal, or false when
// either is not one (a pipe, a file, a test's buffer): then the console reads plain lines.
func terminalFiles(in io.Reader, out io.Writer) (*os.File, *os.File, bool) {
	fin, ok1 := in.(*os.File)
	fout, ok2 := out.(*os.File)
	if !ok1 || !ok2 || !term.IsTerminal(int(fin.Fd())) || !term.IsTerminal(int(fout.Fd())) {
		return nil, nil, false
	}
	return fin, fout, true
}

// lineReader is where Run gets its lines from: a terminal with editing, or a plain stream.
type lineReader interface {
	// ReadLine returns the next line, or io.EOF when the input ended (Ctrl-D, Ctrl-C).
	ReadLine() (string, error)
	// Done is told, after the line has been handled, whether it may be remembered.
	Done(line string, remember bool)
	// Width is how many columns the output has; 0 when unknown or unbounded.
	Width() int
	Close() error
}

// plainLines reads lines from a stream that is not a terminal.
type plainLines struct{ sc *bufio.Scanner }

func newPlainLines(in io.Reader) *plainLines {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	return &plainLines{sc: sc}
}

func (p *plainLines) ReadLine() (string, error) {
	if p.sc.Scan() {
		return p.sc.Text(), nil
	}
	if err := p.sc.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}

func (p *plainLines) Done(string, bool) {}
func (p *plainLines) Width() int        { return 0 }
func (p *plainLines) Close() error      { return nil }

// terminalLines is an interactive terminal in raw mode with line editing, history and completion
// (golang.org/x/term): arrow keys move and recall instead of printing escape sequences.
type terminalLines struct {
	t       *term.Terminal
	in, out *os.File
	restore *term.State
	hist    *history
}

func newTerminalLines(in, out *os.File, opts Options, names func() []string) (*terminalLines, error) {
	state, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return nil, fmt.Errorf("console: raw mode: %w", err)
	}
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{in, out}, Prompt)
	h := loadHistory(opts.HistoryPath)
	t.History = h
	t.AutoCompleteCallback = completer(opts.Commands, names)
	tl := &terminalLines{t: t, in: in, out: out, restore: state, hist: h}
	if w := tl.Width(); w > 0 {
		_, height, _ := term.GetSize(int(out.Fd()))
		t.SetSize(w, height) //nolint:errcheck // the size is a hint for redrawing
	}
	return tl, nil
}

func (tl *terminalLines) ReadLine() (string, error) {
	line, err := tl.t.ReadLine()
	if errors.Is(err, term.ErrPasteIndicator) {
		err = nil // a pasted line is a line like any other
	}
	return line, err
}

func (tl *terminalLines) Done(line string, remember bool) {
	if remember {
		tl.hist.keep(line)
	}
}

func (tl *terminalLines) Width() int {
	w, _, err := term.GetSize(int(tl.out.Fd()))
	if err != nil {
		return 0
	}
	return w
}

func (tl *terminalLines) Close() error {
	io.WriteString(tl.t, "\n") //nolint:errcheck // leaving the prompt's line
	return term.Restore(int(tl.in.Fd()), tl.restore)
}

// history is the terminal's recall list, kept in a file. x/term adds every line it reads; the
// console decides after running it whether the line is kept (never one that carried a PIN), so
// Add only notes the candidate and keep makes it part of the history.
type history struct {
	mu    sync.Mutex
	lines []string // oldest first
	path  string
}

func loadHistory(path string) *history {
	h := &history{path: path}
	if path == "" {
		return h
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return h // none yet, or unreadable: start afresh rather than refuse the console
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			h.lines = append(h.lines, line)
		}
	}
	if len(h.lines) > historyLimit {
		h.lines = h.lines[len(h.lines)-historyLimit:]
	}
	return h
}

// Add is called by the terminal for each line read; keep decides.
func (h *history) Add(string) {}

func (h *history) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.lines)
}

func (h *history) At(i int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lines[len(h.lines)-1-i]
}

// keep adds line to the history and its file, unless it repeats the latest line.
func (h *history) keep(line string) {
	line = strings.TrimSpace(line)
	if line == "" || strings.ContainsAny(line, "\r\n") {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.lines); n > 0 && h.lines[n-1] == line {
		return
	}
	h.lines = append(h.lines, line)
	if len(h.lines) > historyLimit {
		h.lines = slices.Delete(h.lines, 0, len(h.lines)-historyLimit)
	}
	if h.path == "" {
		return
	}
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return // history is a convenience; a read-only folder must not stop the console
	}
	defer f.Close()
	f.WriteString(line + "\n") //nolint:errcheck // as above
}

// completer completes the first word from the command words and a later part of the line from
// the names of the people the console last saw in the meeting, case-insensitively. With several
// candidates it completes as far as they agree.
func completer(commands []string, names func() []string) func(line string, pos int, key rune) (string, int, bool) {
	return func(line string, pos int, key rune) (string, int, bool) {
		if key != '\t' || pos != len(line) {
			return "", 0, false
		}
		head, frag, hasArgs := strings.Cut(line, " ")
		var candidates []string
		prefix := ""
		if !hasArgs {
			frag, candidates = head, commands
		} else {
			prefix = head + " "
			// The name is the rest of the line ("mute Ali" → "mute Alice Martin"), or its last
			// word after a keyword ("presentation allow Ca").
			if names != nil {
				candidates = names()
			}
			if i := strings.LastIndex(frag, " "); i >= 0 && !hasPrefixFold(candidates, frag) {
				prefix, frag = prefix+frag[:i+1], frag[i+1:]
			}
		}
		var match []string
		for _, c := range candidates {
			if hasPrefixFold([]string{c}, frag) {
				match = append(match, c)
			}
		}
		if len(match) == 0 {
			return "", 0, false
		}
		done := commonPrefixFold(match)
		if len(match) == 1 {
			done += " "
		}
		if len([]rune(done)) < len([]rune(frag)) {
			return "", 0, false
		}
		out := prefix + done
		return out, len(out), true
	}
}

func hasPrefixFold(candidates []string, frag string) bool {
	frag = strings.ToLower(frag)
	for _, c := range candidates {
		if strings.HasPrefix(strings.ToLower(c), frag) {
			return true
		}
	}
	return false
}

// commonPrefixFold returns the longest prefix, by runes and ignoring case, that every string of
// ss shares, spelled as in the first.
func commonPrefixFold(ss []string) string {
	first := []rune(ss[0])
	n := len(first)
	for _, s := range ss[1:] {
		r := []rune(s)
		i := 0
		for i < n && i < len(r) && unicode.ToLower(first[i]) == unicode.ToLower(r[i]) {
			i++
		}
		n = i
	}
	return string(first[:n])
}
