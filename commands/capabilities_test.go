package commands

import (
	"strings"
	"testing"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings/sim"
)

// A participant whose node says it cannot be muted, disconnected or transferred is refused with
// one line and no platform call; the others still can be.
func TestCapabilityFlagsRefuseBeforeAnyCall(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	gw := f.pub.Join(sim.ParticipantSpec{Name: "Gateway", Protocol: "sip",
		Unsupported: sim.Unsupported{Mute: true, Disconnect: true, Transfer: true}})
	f.refresh(t)
	for _, text := range []string{"mute Gateway", "unmute Gateway", "kick Gateway", "transfer Gateway " + privRoom + " " + hostPIN} {
		t.Run(text, func(t *testing.T) {
			f.sim.ResetRequests()
			rep := f.do(chat.Host, text)
			if !rep.Failed || !strings.Contains(rep.Text, "does not let anyone") || strings.Count(rep.Text, "\n") != 0 {
				t.Errorf("reply %+v, want one line refusing", rep)
			}
			if ops := f.participantOps(); len(ops) != 0 {
				t.Errorf("called %v", ops)
			}
		})
	}
	if _, ok := f.pub.Participant(gw); !ok {
		t.Error("the gateway was disconnected")
	}
	if rep := f.do(chat.Host, "mute Bob Smith"); rep.Text != "muted Bob Smith" {
		t.Errorf("a participant who can be muted: %+v", rep)
	}
	for _, row := range f.do(chat.Host, "who").Table.Rows {
		if row.Cells[0] == "Gateway" && len(row.Actions) != 0 {
			t.Errorf("the gateway's row offers %+v", row.Actions)
		}
	}
}
