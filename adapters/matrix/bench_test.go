package matrix

import (
	"fmt"
	"testing"

	"github.com/meetbot/meetbot/chat"
)

// BenchmarkRenderWho renders a who reply for a 200-person meeting.
func BenchmarkRenderWho(b *testing.B) {
	t := &chat.Table{Columns: []string{"Name", "Role", "Muted"}}
	for i := range 200 {
		t.Rows = append(t.Rows, chat.Row{Cells: []string{fmt.Sprintf("Person <%d> & co", i), "guest", "no"}})
	}
	r := chat.Reply{Text: "200 people", Table: t}
	b.ReportAllocs()
	for b.Loop() {
		renderReply(r)
	}
}

// BenchmarkParseCommand parses a room message addressed to the bot by mention.
func BenchmarkParseCommand(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		parseCommand("Meet Bot: !meet mute Bob Smith", testNames)
	}
}
