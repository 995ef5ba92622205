package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/meetbot/meetbot/chat"
)

// Hostile display names, as a guest can set them when joining a meeting.
var hostileNames = []string{
	"x\n:lock: Locked",               // fakes a status line
	"Eve\r\n*Mallory* · host",        // fakes a who row
	"*boss* _urgent_ ~old~ `code`",   // formatting
	"> quoted",                       // a block quote at a line start
	"<@U0ADMIN> <!channel>",          // mentions
	"<https://evil.example|Payroll>", // a disguised link
	"&lt;!here&gt;",                  // pre-escaped markup
	"\u202Egnp.exe",                  // right-to-left override
	"Tab\there\x1b[2J",               // tab and a terminal escape
}

func TestNameText(t *testing.T) {
	cases := map[string]string{
		"x\n:lock: Locked":             "x :lock: Locked",
		"*boss* _urgent_ ~old~ `code`": "∗boss∗ ˍurgentˍ ∼old∼ ˋcodeˋ",
		"＊wide＊ ｀x｀":                   "﹡wide﹡ ˋxˋ",
		"<@U0ADMIN> <!channel>":        "&lt;@U0ADMIN&gt; &lt;!channel&gt;",
		"&lt;!here&gt;":                "&amp;lt;!here&amp;gt;",
		"\u202Egnp.exe":                "\uFFFDgnp.exe",
		"john_smith":                   "johnˍsmith",
		"Zhang Wei 张伟":                 "Zhang Wei 张伟",
	}
	for in, want := range cases {
		if got := nameText(in); got != want {
			t.Errorf("nameText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPlainText(t *testing.T) {
	cases := map[string]string{
		"> quoted\nfine":                  "\u00ad&gt; quote" + "d\nfine",
		"Alice: ```rm -rf /```":           "Alice: ˋˋˋrm -rf /ˋˋˋ",
		`schedule "0 9 * * 1-5" unlock`:   `schedule "0 9 * * 1-5" unlock`, // copied from help, it must still work
		"line one\r\nline two\u2028three": "line one\nline two\nthree",
		"muted *Bob*":                     "muted ∗Bob∗",
		"  >>> all of it":                 "\u00ad  &gt;&gt;&gt; all of it",
	}
	for in, want := range cases {
		if got := plainText(in); got != want {
			t.Errorf("plainText(%q) = %q, want %q", in, got, want)
		}
	}
}

// checkInertLine fails unless s, the rendering of one name inside a line of ours, is one line of
// text that Slack shows as written: no line break, no control character, no <…> markup, and no
// formatting character touching other text.
func checkInertLine(t *testing.T, what, s string) {
	t.Helper()
	if strings.ContainsAny(s, "\n\r<>") {
		t.Errorf("%s: %q breaks the line or holds markup", what, s)
	}
	r := []rune(s)
	for i, c := range r {
		if unicode.IsControl(c) || isBidiControl(c) {
			t.Errorf("%s: %q holds control character %U", what, s, c)
		}
		if _, ok := lookAlike[c]; ok && ((i > 0 && !unicode.IsSpace(r[i-1])) || (i+1 < len(r) && !unicode.IsSpace(r[i+1]))) {
			t.Errorf("%s: %q keeps formatting character %q", what, s, c)
		}
	}
}

// sectionTexts returns the text of every section of blocks, as Slack received it.
func sectionTexts(t *testing.T, blocksJSON string) []string {
	t.Helper()
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text     string `json:"text"`
			Verbatim bool   `json:"verbatim"`
		} `json:"text"`
	}
	if err := json.Unmarshal([]byte(blocksJSON), &blocks); err != nil {
		t.Fatalf("blocks %s: %v", blocksJSON, err)
	}
	var out []string
	for _, b := range blocks {
		if b.Type == "section" {
			if !b.Text.Verbatim {
				t.Errorf("section %q is not verbatim: Slack would link bare URLs in it", b.Text.Text)
			}
			out = append(out, b.Text.Text)
		}
	}
	return out
}

// TestHostileNamesOverHTTP: a signed `who` whose table holds hostile names comes back with one
// line per participant, each name shown as written: no fake row, no formatting, no mention.
func TestHostileNamesOverHTTP(t *testing.T) {
	f := newFakeSlack(t)
	f.users["U1"] = map[string]any{"id": "U1"}
	tab := &chat.Table{Columns: []string{"Name", "Role"}}
	for i, n := range hostileNames {
		tab.Rows = append(tab.Rows, chat.Row{Cells: []string{n, "guest"},
			Actions: []chat.Action{{Label: "Kick", Command: "kick " + string(rune('a'+i)), Danger: true}}})
	}
	rec := &recorder{reply: func(chat.Request) chat.Reply {
		return chat.Reply{Text: hostileNames[0] + " is here", Table: tab, Choices: []chat.Action{{Label: hostileNames[1], Command: "mute b"}}}
	}}
	_, srv := newTestAdapter(t, f, rec)
	if got := post(t, srv.URL+"/slack/commands", testSecret, time.Now(), slashBodyFor(f, "who")); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	wh := f.nextWebhook(t)
	texts := sectionTexts(t, string(wh.Blocks))
	rows := 0
	for _, s := range texts {
		if !strings.HasSuffix(s, "· guest") {
			continue
		}
		rows++
		name := strings.TrimSuffix(strings.TrimPrefix(s, "*"), "* · guest")
		checkInertLine(t, "who row", name)
	}
	if rows != len(hostileNames) {
		t.Errorf("%d who rows, want %d (one per participant):\n%s", rows, len(hostileNames), strings.Join(texts, "\n---\n"))
	}
	// Button labels and confirmation dialogs are plain_text, which Slack never parses; every
	// mrkdwn text must hold no markup the names brought.
	for _, s := range texts {
		for _, bad := range []string{"<@U0ADMIN>", "<!channel>", "<https://evil", "\u202E", "*boss*"} {
			if strings.Contains(s, bad) {
				t.Errorf("section %q holds %q", s, bad)
			}
		}
	}
}

// TestHostileNamesInStatusMessage: the threaded "meeting in progress" message lists hostile
// names and a hostile presenter without gaining a line or any formatting.
func TestHostileNamesInStatusMessage(t *testing.T) {
	f := newFakeSlack(t)
	a, _ := newTestAdapter(t, f, &recorder{})
	state := chat.MeetingState{Name: "Weekly\n:lock: Locked", Present: hostileNames, Presenter: hostileNames[1],
		Started: time.Now(), Peak: len(hostileNames), Total: len(hostileNames)}
	if err := a.Post(context.Background(), general, chat.Notification{Text: hostileNames[2] + " joined",
		Kinds: []chat.NoticeKind{chat.Joined}, Meeting: state, Threaded: true}); err != nil {
		t.Fatal(err)
	}
	posts := f.callsOf("chat.postMessage")
	if len(posts) != 2 {
		t.Fatalf("%d posts, want status and reply", len(posts))
	}
	texts := sectionTexts(t, posts[0].Form.Get("blocks"))
	if len(texts) != 2 {
		t.Fatalf("status sections %q", texts)
	}
	checkInertLine(t, "meeting name", strings.TrimPrefix(texts[0], ":large_green_circle: *Meeting in progress:* "))
	facts := strings.Split(texts[1], "\n")
	if len(facts) != 3 || !strings.HasPrefix(facts[0], "*In the meeting (9):* ") || !strings.HasPrefix(facts[1], "*Presenting:* ") || facts[2] != ":unlock: Not locked" {
		t.Fatalf("status facts are not the three lines of ours:\n%s", texts[1])
	}
	checkInertLine(t, "present", strings.TrimPrefix(facts[0], "*In the meeting (9):* "))
	checkInertLine(t, "presenter", strings.TrimPrefix(facts[1], "*Presenting:* "))
	if got := posts[1].Form.Get("text"); got != "∗boss∗ ˍurgentˍ ∼old∼ ˋcodeˋ joined" {
		t.Errorf("notification text %q", got)
	}
}

// TestLongLineCutStartsNoQuote: a line longer than one section is cut into several; a cut that
// lands before a > does not make the next section a quote.
func TestLongLineCutStartsNoQuote(t *testing.T) {
	text := strings.Repeat("a", maxSectionText-1) + ">" + strings.Repeat("b", 10)
	m := renderReply(chat.Reply{Text: text, Choices: []chat.Action{{Label: "x", Command: "x"}}}, replyOptions{})
	b, _ := json.Marshal(m.Blocks)
	for _, s := range sectionTexts(t, string(b)) {
		if strings.HasPrefix(strings.TrimLeft(s, " "), "&gt;") {
			t.Errorf("a section starts a quote: %.40q", s)
		}
	}
}
