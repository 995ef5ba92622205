package matrix

import (
	"fmt"
	"html"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/meetbot/meetbot/chat"
)

// wordJoiner is invisible; put after "@" it keeps "@room" readable but out of reach of the legacy
// body-matching push rule that pings a whole room.
const wordJoiner = "\u2060"

// defuse breaks "@room" in plain text so no client or server treats it as a room mention.
func defuse(s string) string {
	var b strings.Builder
	for {
		i := indexFold(s, "@room")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+1])
		b.WriteString(wordJoiner)
		s = s[i+1:]
	}
}

func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// escapeHTML escapes plain text for an HTML body, keeping its line breaks.
func escapeHTML(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
}

// message is one rendered message: the plain body and its HTML form.
type message struct {
	Plain, HTML string
}

// renderReply renders a command reply. Choices are numbered and picked with "!meet <n>"; a
// confirmation is given with "!meet confirm".
func renderReply(r chat.Reply) message {
	r.Text = scrubText(r.Text)
	var plain, h strings.Builder
	if r.Text != "" {
		plain.WriteString(r.Text)
		h.WriteString("<p>" + escapeHTML(r.Text) + "</p>")
	}
	if r.Table != nil && (len(r.Table.Columns) > 0 || len(r.Table.Rows) > 0) {
		renderTable(&plain, &h, r.Table)
	}
	if len(r.Choices) > 0 {
		sep(&plain)
		h.WriteString("<ol>")
		for i, c := range r.Choices {
			fmt.Fprintf(&plain, "%d. %s — %s %d\n", i+1, plainName(c.Label), Prefix, i+1)
			fmt.Fprintf(&h, "<li>%s — <code>%s %d</code></li>", htmlName(c.Label), Prefix, i+1)
		}
		h.WriteString("</ol>")
		fmt.Fprintf(&plain, "Send %s <number> to pick one.", Prefix)
		fmt.Fprintf(&h, "<p>Send <code>%s &lt;number&gt;</code> to pick one.</p>", Prefix)
	}
	if r.Confirm != nil {
		sep(&plain)
		label := r.Confirm.Label
		if label == "" {
			label = "go ahead"
		}
		if r.Confirm.Prompt != "" {
			plain.WriteString(r.Confirm.Prompt + "\n")
			h.WriteString("<p>" + escapeHTML(r.Confirm.Prompt) + "</p>")
		}
		fmt.Fprintf(&plain, "Send %s confirm to %s; do nothing to cancel.", Prefix, strings.ToLower(label))
		fmt.Fprintf(&h, "<p>Send <code>%s confirm</code> to %s; do nothing to cancel.</p>", Prefix, escapeHTML(strings.ToLower(label)))
	}
	return message{Plain: defuse(strings.TrimRight(plain.String(), "\n")), HTML: h.String()}
}

func sep(b *strings.Builder) {
	if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
}

// renderTable writes t as an HTML table and as aligned plain-text columns.
func renderTable(plain, h *strings.Builder, t *chat.Table) {
	t = t.WithoutDetails() // the plain body's columns must fit a phone's width
	cols := len(t.Columns)
	for _, r := range t.Rows {
		cols = max(cols, len(r.Cells))
	}
	width := make([]int, cols)
	// Cells are often names: each is one line, and the plain form has its Markdown escaped.
	cell := func(cells []string, i int) string {
		if i < len(cells) {
			return plainName(cells[i])
		}
		return ""
	}
	htmlCell := func(cells []string, i int) string {
		if i < len(cells) {
			return htmlName(cells[i])
		}
		return ""
	}
	all := append([][]string{t.Columns}, make([][]string, 0, len(t.Rows))...)
	for _, r := range t.Rows {
		all = append(all, r.Cells)
	}
	for _, cells := range all {
		for i := range width {
			width[i] = max(width[i], visibleLen(cell(cells, i)))
		}
	}
	sep(plain)
	h.WriteString("<table>")
	if len(t.Columns) > 0 {
		h.WriteString("<thead><tr>")
		for i := range cols {
			h.WriteString("<th>" + htmlCell(t.Columns, i) + "</th>")
		}
		h.WriteString("</tr></thead>")
		writePlainRow(plain, t.Columns, width, cell)
	}
	h.WriteString("<tbody>")
	for _, r := range t.Rows {
		h.WriteString("<tr>")
		for i := range cols {
			h.WriteString("<td>" + htmlCell(r.Cells, i) + "</td>")
		}
		h.WriteString("</tr>")
		writePlainRow(plain, r.Cells, width, cell)
	}
	h.WriteString("</tbody></table>")
}

func writePlainRow(b *strings.Builder, cells []string, width []int, cell func([]string, int) string) {
	var line strings.Builder
	for i, w := range width {
		c := cell(cells, i)
		line.WriteString(c)
		if i < len(width)-1 {
			line.WriteString(strings.Repeat(" ", w-visibleLen(c)+2))
		}
	}
	b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
}

// renderNotification renders a relay notification: its text, escaped, never a mention.
func renderNotification(n chat.Notification) message {
	n.Text = scrubText(n.Text)
	if hint := admitHint(n); hint != "" {
		n.Text += "\n" + hint
	}
	return message{Plain: defuse(n.Text), HTML: escapeHTML(n.Text)}
}

// admitHint names the command a host types to let in who waits, for a notification that says
// someone waits to be admitted: Matrix has no buttons, so the notice itself says what to do.
func admitHint(n chat.Notification) string {
	if n.NoWaitingAlerts || !slices.Contains(n.Kinds, chat.Waiting) {
		return ""
	}
	var waiting []string
	for _, p := range n.Meeting.People {
		if p.Waiting {
			waiting = append(waiting, p.Name)
		}
	}
	switch len(waiting) {
	case 0:
		return "" // already admitted, or people waiting for a host, whom no command lets in
	case 1:
		return fmt.Sprintf("A host can let them in: %s admit %s", Prefix, oneLine(waiting[0])) // a name that ends a command needs no quotes
	}
	return fmt.Sprintf("A host can let them in: %s admit <name>, or %s admit all", Prefix, Prefix)
}

// oneLine makes s one line of text: control characters, line and paragraph separators and
// direction overrides (which can make text read backwards) become spaces, and runs of spaces
// shrink to one. Display names pass through it before the core sees them, so a name cannot start a
// new line in any message.
func oneLine(s string) string {
	var b strings.Builder
	space := true
	for _, r := range s {
		if breaksLine(r) || unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
				space = true
			}
			continue
		}
		b.WriteRune(r)
		space = false
	}
	return strings.TrimRight(b.String(), " ")
}

// breaksLine reports whether r could break a line or reorder the text around it.
func breaksLine(r rune) bool {
	switch {
	case r == utf8.RuneError, unicode.IsControl(r), r == '\u2028', r == '\u2029', r == '\u0085':
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069', r == '\u200e', r == '\u200f', r == '\u061c':
		return true // bidirectional embeddings, overrides and isolates, and the direction marks
	}
	return false
}

// markdownSpecial are the characters that make Markdown formatting, links, quotes, headings or
// tables, which some clients render in a message's plain body.
const markdownSpecial = "\\`*_~[]<>#|"

// plainName renders a name (a participant, a choice) for a message's plain body: one line, its
// Markdown escaped with backslashes, and a word joiner after every '@', ':' and '.', so no client
// takes it for a mention (@room, @user:server), a room alias or a link (https://…, example.org).
func plainName(s string) string {
	s = oneLine(s)
	var b strings.Builder
	for i, r := range s {
		switch {
		case strings.ContainsRune(markdownSpecial, r), i == 0 && (r == '-' || r == '+' || r == '='):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '@' || r == ':' || r == '.':
			b.WriteRune(r)
			b.WriteString(wordJoiner)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// htmlName renders a name for a message's HTML body: one line, escaped, with the same word
// joiners as plainName, since clients turn addresses in HTML text into links and pills too.
func htmlName(s string) string {
	s = oneLine(s)
	var b strings.Builder
	for _, r := range s {
		b.WriteString(html.EscapeString(string(r)))
		if r == '@' || r == ':' || r == '.' {
			b.WriteString(wordJoiner)
		}
	}
	return b.String()
}

// scrubText removes from a whole message what can fake a line break or reverse text (a name the
// core quoted may carry them), keeping its own newlines and tabs.
func scrubText(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && breaksLine(r) }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && breaksLine(r) {
			return ' '
		}
		return r
	}, s)
}

// visibleLen counts the runes of s a reader sees: word joiners take no room.
func visibleLen(s string) int {
	return utf8.RuneCountInString(s) - strings.Count(s, wordJoiner)
}
