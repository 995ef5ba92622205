package matrix

import (
	"fmt"
	"html"
	"strings"

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
			fmt.Fprintf(&plain, "%d. %s — %s %d\n", i+1, c.Label, Prefix, i+1)
			fmt.Fprintf(&h, "<li>%s — <code>%s %d</code></li>", escapeHTML(c.Label), Prefix, i+1)
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
	cols := len(t.Columns)
	for _, r := range t.Rows {
		cols = max(cols, len(r.Cells))
	}
	width := make([]int, cols)
	cell := func(cells []string, i int) string {
		if i < len(cells) {
			return strings.ReplaceAll(cells[i], "\n", " ")
		}
		return ""
	}
	all := append([][]string{t.Columns}, make([][]string, 0, len(t.Rows))...)
	for _, r := range t.Rows {
		all = append(all, r.Cells)
	}
	for _, cells := range all {
		for i := range width {
			width[i] = max(width[i], len([]rune(cell(cells, i))))
		}
	}
	sep(plain)
	h.WriteString("<table>")
	if len(t.Columns) > 0 {
		h.WriteString("<thead><tr>")
		for i := range cols {
			h.WriteString("<th>" + escapeHTML(cell(t.Columns, i)) + "</th>")
		}
		h.WriteString("</tr></thead>")
		writePlainRow(plain, t.Columns, width, cell)
	}
	h.WriteString("<tbody>")
	for _, r := range t.Rows {
		h.WriteString("<tr>")
		for i := range cols {
			h.WriteString("<td>" + escapeHTML(cell(r.Cells, i)) + "</td>")
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
			line.WriteString(strings.Repeat(" ", w-len([]rune(c))+2))
		}
	}
	b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
}

// renderNotification renders a relay notification: its text, escaped, never a mention.
func renderNotification(n chat.Notification) message {
	return message{Plain: defuse(n.Text), HTML: escapeHTML(n.Text)}
}
