package slack

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/meetbot/meetbot/chat"
)

// Slack's limits on what one message may hold.
const (
	maxBlocks       = 50    // blocks per message
	maxSectionText  = 3000  // characters in one section's text
	maxMessageText  = 39000 // characters of top-level text (Slack truncates at 40,000)
	maxButtonLabel  = 75    // characters of a button's label
	maxButtonsBlock = 25    // elements in one actions block
	maxBlockID      = 255   // characters of a block_id
	maxButtonValue  = 2000  // characters of a button's value
	maxListedNames  = 40    // names shown in a status message before "and N more"
)

// message is a rendered Slack message: top-level mrkdwn text (also the notification fallback)
// and optional Block Kit blocks.
type message struct {
	Text   string
	Blocks []slackgo.Block
}

// escape makes plain text safe for mrkdwn: &, < and > become entities, so "<!channel>" or
// "<@U123>" in a display name is shown as written and pings no one.
func escape(s string) string { return slackutilsx.EscapeMessage(s) }

// Text from outside (display names, meeting names, chat messages, and the core's replies, which
// carry them) is plain text, and Slack has no way to escape mrkdwn. So it is rendered inert:
//
//   - nameText makes one line of it, so a name cannot start a line of its own that looks like a
//     status line or a row of `who`;
//   - &, < and > become entities, so no <…> link, mention or <!channel> can be formed;
//   - a formatting character (* _ ~ ` and their full-width forms) that touches other text, and
//     so could open or close bold, italics, strike-through or code, becomes a look-alike that
//     Slack does not format; one standing alone between spaces ("* * 1-5") is left as it is;
//   - a > at the start of a line, which would quote it, is preceded by a soft hyphen;
//   - mrkdwn text objects are verbatim, so bare URLs and #channel names in the text are not
//     turned into links.
//
// nameText is for a name inside a line of ours; plainText for text of several lines.

// nameText renders a display name (or any one-line field from outside) for mrkdwn.
func nameText(s string) string { return inert(escape(oneLine(s))) }

// plainText renders plain text of one or more lines for mrkdwn.
func plainText(s string) string {
	lines := strings.Split(escape(controlsOut(s)), "\n")
	for i, l := range lines {
		l = inert(l)
		if t := strings.TrimLeft(l, " "); strings.HasPrefix(t, "&gt;") || strings.HasPrefix(t, "＞") {
			l = "\u00ad" + l
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

// oneLine makes s one line whose characters are in the order given (chat.OneLine).
func oneLine(s string) string { return chat.OneLine(s) }

// controlsOut keeps line breaks (as \n) and replaces tabs with spaces and every other control or
// text-reordering character with U+FFFD.
func controlsOut(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029:
			return '\n'
		case r == '\t':
			return ' '
		case unicode.IsControl(r) || isBidiControl(r):
			return utf8.RuneError
		}
		return r
	}, s)
}

// isBidiControl reports the invisible characters that reorder the text around them (U+202A–E,
// U+2066–9, the directional marks), with which "evil.example/moc.knab" reads as a bank's name.
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// lookAlike is what each mrkdwn formatting character becomes where it could take effect.
var lookAlike = map[rune]rune{
	'*': '∗', '＊': '﹡', // U+2217 asterisk operator, U+FE61 small asterisk
	'_': 'ˍ', '＿': 'ˍ', // U+02CD modifier letter low macron
	'~': '∼', '～': '∼', // U+223C tilde operator
	'`': 'ˋ', '｀': 'ˋ', // U+02CB modifier letter grave accent
}

// inert replaces each formatting character of escaped one-line text that touches a character
// other than a space on either side (see the comment above nameText).
func inert(s string) string {
	if !strings.ContainsAny(s, "*_~`＊＿～｀") {
		return s
	}
	r := []rune(s)
	out := make([]rune, len(r))
	for i, c := range r {
		out[i] = c
		la, ok := lookAlike[c]
		if !ok {
			continue
		}
		before := i > 0 && !unicode.IsSpace(r[i-1])
		after := i+1 < len(r) && !unicode.IsSpace(r[i+1])
		if before || after {
			out[i] = la
		}
	}
	return string(out)
}

// truncate cuts s to at most n characters (runes), ending with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// truncateEscaped cuts escaped text without splitting an entity such as "&amp;".
func truncateEscaped(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	if i := strings.LastIndexByte(string(r), '&'); i >= 0 && !strings.Contains(string(r)[i:], ";") {
		return string(r)[:i] + "…"
	}
	return string(r) + "…"
}

// mrkdwn is a verbatim mrkdwn text object: our own markup (*bold*, <@U1>, <!date…>) works, and
// Slack links nothing by itself.
func mrkdwn(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.MarkdownType, s, false, true)
}

// plain is a plain_text object of one line: button labels, confirmation dialogs.
func plain(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.PlainTextType, oneLine(s), false, false)
}

// Block ids carry what a button press needs to update its message: the kind of block and, for
// table rows, the command whose reply the table was (to redraw it). Slack routes a press as a
// block action only when its block has a block_id.
const (
	kindRow     = "r" // a table row's buttons
	kindChoice  = "c" // candidates of an ambiguous request
	kindConfirm = "k" // the confirm button of a dangerous command
)

func blockID(kind string, i int, source string) string {
	id := "mb|" + kind + "|" + strconv.Itoa(i)
	if source != "" && len(id)+1+len(source) <= maxBlockID {
		id += "|" + source
	}
	return id
}

// parseBlockID reads what blockID wrote; ok is false for blocks of other origins.
func parseBlockID(id string) (kind, source string, ok bool) {
	parts := strings.SplitN(id, "|", 4)
	if len(parts) < 3 || parts[0] != "mb" {
		return "", "", false
	}
	if len(parts) == 4 {
		source = parts[3]
	}
	return parts[1], source, true
}

// replyOptions says how to render a reply.
type replyOptions struct {
	// Requester is the Slack user id a public reply is attributed to ("<@U1> muted Bob").
	Requester string
	// Source is the command text whose reply this is, kept in row block ids so a button press can
	// redraw the table.
	Source string
}

// renderReply turns a chat.Reply into a Slack message. Text is rendered inert (plainText); a
// public reply is attributed to the requester; tables, choices and confirmations become Block Kit.
func renderReply(r chat.Reply, o replyOptions) message {
	text := plainText(r.Text)
	if r.Failed && text != "" {
		text = ":warning: " + text
	}
	if r.Public && o.Requester != "" {
		text = strings.TrimSpace("<@" + o.Requester + "> " + text)
	}
	join := joinButton(r.JoinURL)
	if r.Table == nil && len(r.Choices) == 0 && r.Confirm == nil && join == nil {
		return message{Text: truncateEscaped(text, maxMessageText)}
	}
	var blocks []slackgo.Block
	for _, chunk := range splitText(text, maxSectionText) {
		if len(blocks) >= 10 {
			break
		}
		// A line too long for one section is cut; the cut must not start a quote either.
		if t := strings.TrimLeft(chunk, " "); strings.HasPrefix(t, "&gt;") || strings.HasPrefix(t, "＞") {
			chunk = "\u00ad" + chunk
		}
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(chunk), nil, nil))
	}
	if r.Table != nil {
		blocks = append(blocks, tableBlocks(r.Table, o.Source, maxBlocks-len(blocks)-2)...)
	}
	if len(r.Choices) > 0 {
		blocks = append(blocks, actionBlocks(kindChoice, r.Choices, "", maxBlocks-len(blocks)-1)...)
	}
	if r.Confirm != nil {
		c := r.Confirm
		if c.Prompt != "" {
			blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(truncateEscaped(plainText(c.Prompt), maxSectionText)), nil, nil))
		}
		label := c.Label
		if label == "" {
			label = "Confirm"
		}
		btn := button(kindConfirm, 0, 0, chat.Action{Label: label, Command: c.Command, Danger: true}, c.Prompt)
		blocks = append(blocks, slackgo.NewActionBlock(blockID(kindConfirm, 0, ""), btn))
	}
	if join != nil {
		blocks = append(blocks, slackgo.NewActionBlock(joinBlockID, join))
	}
	fallback := text
	if fallback == "" && r.Confirm != nil {
		fallback = plainText(r.Confirm.Prompt)
	}
	return message{Text: truncateEscaped(fallback, maxSectionText), Blocks: blocks}
}

// splitText cuts text into chunks of at most n characters, at line breaks where it can.
func splitText(text string, n int) []string {
	var out []string
	for text != "" {
		if utf8.RuneCountInString(text) <= n {
			out = append(out, text)
			break
		}
		cut := len(string([]rune(text)[:n]))
		if i := strings.LastIndexByte(text[:cut], '\n'); i > 0 {
			cut = i
		} else if i := strings.LastIndexByte(text[:cut], '&'); i > 0 && !strings.Contains(text[i:cut], ";") {
			cut = i // do not split an entity
		}
		out = append(out, text[:cut])
		text = strings.TrimPrefix(text[cut:], "\n")
	}
	return out
}

// rowLine renders one table row: the first cell in bold, then the other cells that say
// something. A "yes" cell shows its column's name ("presenting"), an "on" or "off" cell its
// column's name too ("audio on"), a "no" or empty cell is left out.
func rowLine(cols, cells []string) string {
	if len(cells) == 0 {
		return ""
	}
	parts := []string{"*" + nameText(strings.TrimSpace(cells[0])) + "*"}
	for i := 1; i < len(cells); i++ {
		v := strings.TrimSpace(cells[i])
		col := ""
		if i < len(cols) {
			col = cols[i]
		}
		switch strings.ToLower(v) {
		case "", "no", "false", "-":
			continue
		case "yes", "true", "✓":
			if col != "" {
				v = strings.ToLower(col)
			}
		case "on", "off":
			if col != "" {
				v = strings.ToLower(col) + " " + strings.ToLower(v)
			}
		}
		parts = append(parts, nameText(v))
	}
	return strings.Join(parts, " · ")
}

// tableBlocks renders a table in at most budget blocks: a section per row, followed by an
// actions block for rows with actions. Rows without actions are grouped several to a section.
// Rows that do not fit are summed up in a last line.
func tableBlocks(t *chat.Table, source string, budget int) []slackgo.Block {
	t = t.WithoutDetails() // a row is one section line: no room for when and over what
	var blocks []slackgo.Block
	var lines []string
	linesLen := 0
	flush := func() {
		if len(lines) > 0 {
			blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(strings.Join(lines, "\n")), nil, nil))
			lines, linesLen = nil, 0
		}
	}
	shown := 0
	for i, row := range t.Rows {
		line := truncateEscaped(rowLine(t.Columns, row.Cells), maxSectionText)
		pending := 0
		if len(lines) > 0 {
			pending = 1
		}
		if len(row.Actions) > 0 {
			if len(blocks)+pending+2 > budget-1 {
				break
			}
			flush()
			blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(line), nil, nil))
			var elems []slackgo.BlockElement
			for j, act := range row.Actions {
				if j == maxButtonsBlock {
					break
				}
				prompt := ""
				if act.Danger && len(row.Cells) > 0 {
					prompt = act.Label + " " + oneLine(row.Cells[0]) + "?"
				}
				elems = append(elems, button(kindRow, i, j, act, prompt))
			}
			blocks = append(blocks, slackgo.NewActionBlock(blockID(kindRow, i, source), elems...))
		} else {
			if linesLen+len(line)+1 > maxSectionText {
				if len(blocks)+1+1 > budget-1 {
					break
				}
				flush()
			}
			if len(blocks)+1 > budget-1 {
				break
			}
			lines = append(lines, line)
			linesLen += len(line) + 1
		}
		shown++
	}
	flush()
	if rest := len(t.Rows) - shown; rest > 0 {
		blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more not shown", rest))))
	}
	return blocks
}

// actionBlocks renders actions as buttons, 25 to an actions block, in at most budget blocks.
func actionBlocks(kind string, acts []chat.Action, source string, budget int) []slackgo.Block {
	var blocks []slackgo.Block
	for start := 0; start < len(acts) && len(blocks) < budget; start += maxButtonsBlock {
		end := min(start+maxButtonsBlock, len(acts))
		var elems []slackgo.BlockElement
		for j := start; j < end; j++ {
			elems = append(elems, button(kind, len(blocks), j, acts[j], ""))
		}
		blocks = append(blocks, slackgo.NewActionBlock(blockID(kind, len(blocks), source), elems...))
	}
	return blocks
}

// button renders one action. Its value is the command to run. A dangerous action is red and
// asks before it runs, with prompt as the question when given.
func button(kind string, i, j int, act chat.Action, prompt string) *slackgo.ButtonBlockElement {
	label := act.Label
	if label == "" {
		label = act.Command
	}
	actionID := fmt.Sprintf("mb-%s-%d-%d", kind, i, j)
	b := slackgo.NewButtonBlockElement(actionID, truncate(act.Command, maxButtonValue), plain(truncate(label, maxButtonLabel)))
	if act.Danger {
		if prompt == "" {
			prompt = label + "?"
		}
		b = b.WithStyle(slackgo.StyleDanger).WithConfirm(slackgo.NewConfirmationBlockObject(
			plain("Are you sure?"), plain(truncate(prompt, 300)), plain(truncate(label, 30)), plain("Cancel")))
	}
	return b
}

// renderStatus renders the "meeting in progress" message of a threaded channel, or, once the
// meeting has ended, its summary. now gives the meeting's duration.
func renderStatus(m chat.MeetingState, now time.Time) message {
	name := m.Name
	if name == "" {
		name = m.Room
	}
	if name == "" {
		name = "the meeting"
	}
	if m.Ended {
		return renderSummary(m, name, now)
	}
	head := fmt.Sprintf(":large_green_circle: *Meeting in progress:* %s", nameText(name))
	var facts []string
	facts = append(facts, fmt.Sprintf("*In the meeting (%d):* %s", len(m.Present), nameList(m.Present, maxListedNames)))
	if m.Presenter != "" {
		facts = append(facts, "*Presenting:* "+nameText(m.Presenter))
	}
	if m.Locked {
		facts = append(facts, ":lock: Locked")
	} else {
		facts = append(facts, ":unlock: Not locked")
	}
	if m.GuestsMuted {
		facts = append(facts, ":mute: Guests muted")
	}
	// Slack writes the times in each reader's own zone; the fallback is UTC.
	if !m.RecordingSince.IsZero() {
		facts = append(facts, "● Recording since "+slackTime(m.RecordingSince))
	}
	if !m.LiveSince.IsZero() {
		facts = append(facts, "● Live since "+slackTime(m.LiveSince))
	}
	blocks := []slackgo.Block{
		slackgo.NewSectionBlock(mrkdwn(head), nil, nil),
		slackgo.NewSectionBlock(mrkdwn(truncateEscaped(strings.Join(facts, "\n"), maxSectionText)), nil, nil),
	}
	if b := joinButton(m.JoinURL); b != nil {
		blocks = append(blocks, slackgo.NewActionBlock(joinBlockID, b))
	}
	if !m.Started.IsZero() {
		blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(fmt.Sprintf("Started <!date^%d^{time}|%s>",
			m.Started.Unix(), m.Started.UTC().Format("15:04 UTC")))))
	}
	text := fmt.Sprintf("Meeting in progress: %s (%d in the meeting)", nameText(name), len(m.Present))
	return message{Text: text, Blocks: blocks}
}

// slackTime is t as Slack's date token: HH:MM in the reader's time zone.
func slackTime(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{time}|%s>", t.Unix(), t.UTC().Format("15:04 UTC"))
}

// joinBlockID marks the block of a Join link button. It is not one of ours for parseBlockID: a
// link button also sends a block action, which has nothing to run.
const joinBlockID = "mb-join"

// maxButtonURL is the longest URL Slack takes on a button.
const maxButtonURL = 3000

// joinButton is a link button to the meeting's join page, or nil when there is none (or it is
// not a plain http(s) URL Slack would take).
func joinButton(u string) *slackgo.ButtonBlockElement {
	if u == "" || len(u) > maxButtonURL || !(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) ||
		strings.ContainsAny(u, " \t\r\n<>|") {
		return nil
	}
	b := slackgo.NewButtonBlockElement("mb-join", "", plain("Join"))
	b.URL = u
	return b.WithStyle(slackgo.StylePrimary)
}

func renderSummary(m chat.MeetingState, name string, now time.Time) message {
	head := fmt.Sprintf(":white_check_mark: *Meeting ended:* %s", nameText(name))
	var facts []string
	if !m.Started.IsZero() && now.After(m.Started) {
		facts = append(facts, "*Duration:* "+duration(now.Sub(m.Started)))
	}
	facts = append(facts, fmt.Sprintf("*Attendance:* peak %d, %d in total", m.Peak, m.Total))
	if len(m.Presenters) > 0 {
		facts = append(facts, "*Presented:* "+nameList(m.Presenters, maxListedNames))
	} else {
		facts = append(facts, "*Presented:* nobody")
	}
	blocks := []slackgo.Block{
		slackgo.NewSectionBlock(mrkdwn(head), nil, nil),
		slackgo.NewSectionBlock(mrkdwn(truncateEscaped(strings.Join(facts, "\n"), maxSectionText)), nil, nil),
	}
	text := fmt.Sprintf("Meeting ended: %s (peak %d, %d in total)", nameText(name), m.Peak, m.Total)
	return message{Text: text, Blocks: blocks}
}

// nameList joins names rendered inert, at most max of them, then "and N more".
func nameList(names []string, max int) string {
	if len(names) == 0 {
		return "nobody"
	}
	shown := names
	if len(shown) > max {
		shown = shown[:max]
	}
	parts := make([]string, len(shown))
	for i, n := range shown {
		parts[i] = nameText(n)
	}
	s := strings.Join(parts, ", ")
	if rest := len(names) - len(shown); rest > 0 {
		s += fmt.Sprintf(" and %d more", rest)
	}
	return s
}

// duration renders d as people say it: "45 s", "12 min", "1 h 05 min".
func duration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
}
