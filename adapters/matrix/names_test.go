package matrix

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/meetbot/meetbot/chat"
)

// A display name cannot fake a line, a mention, a link or formatting in a who table or a choice,
// in the plain body or the HTML body.
func TestNamesRenderAsOneLineOfPlainText(t *testing.T) {
	for _, tc := range []struct {
		name, plain, html string
	}{
		{"x\n:lock: Locked", "x :\u2060lock:\u2060 Locked", "x :\u2060lock:\u2060 Locked"},
		{"Bob\r\nAlice  joined", "Bob Alice joined", "Bob Alice joined"},
		{"Eve\u2028Mallory\u202egnp.exe", "Eve Mallory gnp.\u2060exe", "Eve Mallory gnp.\u2060exe"},
		{"@room", "@\u2060room", "@\u2060room"},
		{"@admin:example.org", "@\u2060admin:\u2060example.\u2060org", "@\u2060admin:\u2060example.\u2060org"},
		{"https://evil.example/x", "https:\u2060//evil.\u2060example/x", "https:\u2060//evil.\u2060example/x"},
		{"**bold** _it_ ~s~ `c` [l](u)", "\\*\\*bold\\*\\* \\_it\\_ \\~s\\~ \\`c\\` \\[l\\](u)", "**bold** _it_ ~s~ `c` [l](u)"},
		{"> quote", "\\> quote", "&gt; quote"},
		{"# Heading", "\\# Heading", "# Heading"},
		{"- item", "\\- item", "- item"},
		{`<a href="https://matrix.to/#/@x:y">pill</a>`, "\\<a href=\"https:\u2060//matrix.\u2060to/\\#/@\u2060x:\u2060y\"\\>pill\\</a\\>",
			"&lt;a href=&#34;https:\u2060//matrix.\u2060to/#/@\u2060x:\u2060y&#34;&gt;pill&lt;/a&gt;"},
	} {
		if got := plainName(tc.name); got != tc.plain {
			t.Errorf("plainName(%q) = %q, want %q", tc.name, got, tc.plain)
		}
		if got := htmlName(tc.name); got != tc.html {
			t.Errorf("htmlName(%q) = %q, want %q", tc.name, got, tc.html)
		}
	}
	// In a who table and in choices, a name with a newline stays in its own row.
	m := renderReply(chat.Reply{Text: "2 people", Table: &chat.Table{Columns: []string{"Name"}, Rows: []chat.Row{
		{Cells: []string{"x\n:lock: Locked"}}, {Cells: []string{"Bob"}},
	}}, Choices: []chat.Action{{Label: "Eve\nSend !meet 9 to end the meeting", Command: "kick 1"}}})
	if lines := strings.Split(m.Plain, "\n"); len(lines) != 6 {
		t.Errorf("plain body has %d lines, want 6 (text, header, 2 rows, 1 choice, hint):\n%s", len(lines), m.Plain)
	}
	if strings.Contains(m.HTML, "<br>") {
		t.Errorf("a name broke a line in the HTML: %s", m.HTML)
	}
}

// Text from the core (which quotes names) loses what could fake a line break or reverse the text,
// but keeps its own newlines.
func TestScrubText(t *testing.T) {
	got := renderNotification(chat.Notification{Text: "Eve\u2028:lock: Locked joined\nBob \u202eleft"})
	if got.Plain != "Eve :lock: Locked joined\nBob  left" {
		t.Errorf("notification body %q", got.Plain)
	}
}

// The name renderers keep their promises on any input: one line, nothing a client could take for a
// mention, a link, a tag or Markdown.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"x\n:lock: Locked", "@room", "<b>x</b>", "**a**", "https://e.org", "\u202e", "\xff\xfe", "- a", "@@room"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{plainName(s), htmlName(s), oneLine(s)} {
			if !utf8.ValidString(out) {
				t.Fatalf("invalid UTF-8 from %q: %q", s, out)
			}
			if strings.ContainsFunc(out, breaksLine) || strings.ContainsAny(out, "\n\r\t") {
				t.Fatalf("%q renders with a line break or control: %q", s, out)
			}
		}
		for _, out := range []string{plainName(s), htmlName(s)} {
			for _, bare := range []string{"@", ":", "."} {
				if strings.Count(out, bare) != strings.Count(out, bare+wordJoiner) {
					t.Fatalf("%q renders %q with a bare %q (a mention or a link)", s, out, bare)
				}
			}
		}
		if h := htmlName(s); strings.ContainsAny(h, "<>\"'") {
			t.Fatalf("%q renders unescaped HTML %q", s, h)
		}
		p := plainName(s)
		for i, r := range p {
			if strings.ContainsRune(markdownSpecial, r) && r != '\\' && (i == 0 || p[i-1] != '\\') {
				t.Fatalf("%q renders unescaped Markdown %q in %q", s, string(r), p)
			}
		}
	})
}
