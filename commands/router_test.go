package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/sqlite"
)

func TestLink(t *testing.T) {
	ctx := context.Background()
	t.Run("RightPIN", func(t *testing.T) {
		f := newFixture(t)
		rep := f.do(chat.Admin, "link "+pubRoom+" "+hostPIN)
		if rep.Failed || !rep.Public {
			t.Fatalf("link failed: %+v", rep)
		}
		mustContain(t, rep, "Team Room", "Present: Alice Zhang, Bob Smith, Bobby Tables and 张伟")
		if strings.Contains(rep.Text, hostPIN) || strings.Contains(rep.Text, "joined") {
			t.Errorf("link reply %q echoes the PIN or announces people as joining", rep.Text)
		}
		l, err := f.store.GetLink(ctx, f.ch)
		if err != nil {
			t.Fatal(err)
		}
		if l.PIN.Reveal() != hostPIN || l.Cloud != "public" || l.CloudSetByUser || l.Role != "HOST" || l.Name != "Team Room" || l.Meeting.Room != pubRoom {
			t.Errorf("stored link %+v", l)
		}
		if len(f.meet.followed) != 1 {
			t.Errorf("Follow called %d times, want 1", len(f.meet.followed))
		}
		es, err := f.store.RecentAudit(ctx, f.ch, 5)
		if err != nil || len(es) != 1 {
			t.Fatalf("audit = %+v, %v", es, err)
		}
		if es[0].Command != "link "+pubRoom+" ****" || !es[0].OK || es[0].Outcome != "ok" {
			t.Errorf("audit entry %+v, want link 1061 **** ok", es[0])
		}
		if strings.Contains(f.logs.String(), hostPIN) {
			t.Error("the log holds the PIN")
		}
	})
	t.Run("WrongPIN", func(t *testing.T) {
		f := newFixture(t)
		rep := f.do(chat.Admin, "link "+pubRoom+" 9999")
		if !rep.Failed || rep.Public {
			t.Fatalf("reply %+v, want a private failure", rep)
		}
		mustContain(t, rep, "Invalid PIN")
		if strings.Contains(rep.Text, "9999") {
			t.Errorf("reply %q echoes the PIN", rep.Text)
		}
		if _, err := f.store.GetLink(ctx, f.ch); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetLink after a wrong PIN: %v, want not found", err)
		}
		if n := f.pub.State().Sessions; n != 0 {
			t.Errorf("%d sessions left open in the meeting", n)
		}
		es, _ := f.store.RecentAudit(ctx, f.ch, 5)
		if len(es) != 1 || es[0].OK || !strings.Contains(es[0].Outcome, "Invalid PIN") || strings.Contains(es[0].Command, "9999") {
			t.Errorf("audit %+v, want one failed entry without the PIN", es)
		}
	})
	t.Run("UnknownRoom", func(t *testing.T) {
		f := newFixture(t)
		rep := f.do(chat.Admin, "link 4040")
		if !rep.Failed {
			t.Fatalf("reply %+v, want a failure", rep)
		}
		if !strings.HasPrefix(rep.Text, "The platform answered: ") {
			t.Errorf("reply %q does not give the platform's reason", rep.Text)
		}
		if _, err := f.store.GetLink(ctx, f.ch); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetLink after an unknown room: %v, want not found", err)
		}
		if len(f.meet.followed) != 0 {
			t.Error("Follow was called for an unknown room")
		}
	})
	t.Run("PrivateDetected", func(t *testing.T) {
		f := newFixture(t)
		f.link(t, privRoom+" "+hostPIN)
		l, _ := f.store.GetLink(ctx, f.ch)
		if l.Cloud != "private" || l.CloudSetByUser {
			t.Errorf("link to a private node: cloud %q, set by user %v", l.Cloud, l.CloudSetByUser)
		}
	})
	t.Run("UserSaysPublic", func(t *testing.T) {
		f := newFixture(t)
		f.link(t, privRoom+" "+hostPIN+" PUBLIC")
		l, _ := f.store.GetLink(ctx, f.ch)
		if l.Cloud != "public" || !l.CloudSetByUser {
			t.Errorf("cloud %q, set by user %v; want public by the user", l.Cloud, l.CloudSetByUser)
		}
	})
	t.Run("NodeKindBeforePIN", func(t *testing.T) {
		f := newFixture(t)
		f.link(t, pubRoom+" private "+hostPIN)
		l, _ := f.store.GetLink(ctx, f.ch)
		if l.Cloud != "private" || !l.CloudSetByUser || l.PIN.Reveal() != hostPIN {
			t.Errorf("link %+v, want private by the user with the PIN", l)
		}
	})
	t.Run("UserSaysPrivateWithoutPIN", func(t *testing.T) {
		f := newFixture(t)
		f.sim.AddRoom(sim.RoomConfig{Number: "7000", Name: "Open Room"})
		f.link(t, "7000 private")
		l, _ := f.store.GetLink(ctx, f.ch)
		if l.Cloud != "private" || !l.CloudSetByUser || l.PIN != "" {
			t.Errorf("link %+v, want private by the user and no PIN", l)
		}
	})
	t.Run("GuestPINWarns", func(t *testing.T) {
		f := newFixture(t)
		rep := f.do(chat.Admin, "link "+pubRoom+" "+guestPIN)
		mustContain(t, rep, "guest rights")
	})
	t.Run("AlreadyLinked", func(t *testing.T) {
		f := newFixture(t)
		f.link(t, pubRoom+" "+hostPIN)
		rep := f.do(chat.Admin, "link "+privRoom+" "+hostPIN)
		if !rep.Failed {
			t.Fatalf("second link: %+v", rep)
		}
		mustContain(t, rep, "already linked", "unlink")
		if l, _ := f.store.GetLink(ctx, f.ch); l.Meeting.Room != pubRoom {
			t.Errorf("the link changed to %s", l.Meeting.Room)
		}
	})
	t.Run("Unlink", func(t *testing.T) {
		f := newFixture(t)
		f.link(t, pubRoom+" "+hostPIN)
		rep := f.do(chat.Admin, "unlink")
		if rep.Failed || !rep.Public {
			t.Fatalf("unlink: %+v", rep)
		}
		if _, err := f.store.GetLink(ctx, f.ch); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetLink after unlink: %v", err)
		}
		if len(f.meet.unfollowed) != 1 {
			t.Errorf("Unfollow called %d times", len(f.meet.unfollowed))
		}
		rep = f.do(chat.Host, "mute Bob")
		if rep.Text != notLinked {
			t.Errorf("mute after unlink: %q", rep.Text)
		}
	})
}

func TestParticipantCommands(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)

	t.Run("MuteByQuotedName", func(t *testing.T) {
		rep := f.do(chat.Host, `mute "Bob Smith"`)
		if rep.Failed || !rep.Public || rep.Text != "muted Bob Smith" {
			t.Fatalf("reply %+v", rep)
		}
		if !simParticipant(t, f.pub, f.people["Bob Smith"]).Muted {
			t.Error("Bob Smith is not muted in the meeting")
		}
	})
	t.Run("AmbiguousChangesNothing", func(t *testing.T) {
		f.sim.ResetRequests()
		rep := f.do(chat.Host, "unmute bob")
		if len(rep.Choices) != 2 || rep.Public {
			t.Fatalf("reply %+v, want two private choices", rep)
		}
		if got := f.participantOps(); len(got) != 0 {
			t.Errorf("an ambiguous name called %v", got)
		}
		want := []chat.Action{
			{Label: "Bob Smith (guest)", Command: "unmute id:" + f.people["Bob Smith"]},
			{Label: "Bobby Tables (guest)", Command: "unmute id:" + f.people["Bobby Tables"]},
		}
		if !slices.Equal(rep.Choices, want) {
			t.Errorf("choices %+v, want %+v", rep.Choices, want)
		}
		// Running a choice does what it says.
		rep = f.do(chat.Host, rep.Choices[0].Command)
		if rep.Text != "unmuted Bob Smith" || simParticipant(t, f.pub, f.people["Bob Smith"]).Muted {
			t.Errorf("choice: %+v", rep)
		}
	})
	t.Run("UnknownChangesNothing", func(t *testing.T) {
		f.sim.ResetRequests()
		rep := f.do(chat.Host, "kick Mallory")
		if !rep.Failed || rep.Public {
			t.Fatalf("reply %+v", rep)
		}
		mustContain(t, rep, `No one called "Mallory"`)
		if got := f.ops(); len(got) != 0 {
			t.Errorf("an unknown name called %v", got)
		}
	})
	t.Run("KickCJKPrefix", func(t *testing.T) {
		rep := f.do(chat.Host, "kick 张")
		if rep.Text != "disconnected 张伟" {
			t.Fatalf("reply %+v", rep)
		}
		if _, ok := f.pub.Participant(f.people["张伟"]); ok {
			t.Error("张伟 is still in the meeting")
		}
		f.refresh(t)
	})
	t.Run("FullWidthCommandAndUUIDPrefix", func(t *testing.T) {
		rep := f.do(chat.Host, "ＶＭＵＴＥ\u3000"+f.people["Alice Zhang"][:8])
		if rep.Text != "stopped Alice Zhang's video" || !simParticipant(t, f.pub, f.people["Alice Zhang"]).VideoMuted {
			t.Fatalf("reply %+v", rep)
		}
	})
	t.Run("DTMF", func(t *testing.T) {
		f.do(chat.Host, "dtmf tables 12#")
		if got := simParticipant(t, f.pub, f.people["Bobby Tables"]).DTMF; got != "12#" {
			t.Errorf("DTMF = %q", got)
		}
		rep := f.do(chat.Host, "dtmf tables 12x")
		if !rep.Failed {
			t.Errorf("bad digits: %+v", rep)
		}
	})
	t.Run("Role", func(t *testing.T) {
		f.do(chat.Host, "role tables chair")
		if got := simParticipant(t, f.pub, f.people["Bobby Tables"]).Role; got != "chair" {
			t.Errorf("role = %q", got)
		}
	})
	t.Run("Presentation", func(t *testing.T) {
		f.do(chat.Host, "presentation deny alice")
		if simParticipant(t, f.pub, f.people["Alice Zhang"]).RxPresentationAllowed {
			t.Error("Alice still receives the presentation")
		}
	})
	t.Run("TransferNeverShowsPIN", func(t *testing.T) {
		f.sim.ResetRequests()
		rep := f.do(chat.Host, "transfer tables "+privRoom+" "+hostPIN+" as chair")
		if rep.Failed || strings.Contains(rep.Text, hostPIN) {
			t.Errorf("reply %+v", rep)
		}
		es, _ := f.store.RecentAudit(context.Background(), f.ch, 1)
		if len(es) != 1 || es[0].Command != "transfer tables "+privRoom+" **** as chair" || !es[0].OK {
			t.Errorf("audit %+v", es)
		}
	})
	t.Run("TransferPINAfterRole", func(t *testing.T) {
		f.sim.ResetRequests()
		rep := f.do(chat.Host, `transfer "Bob Smith" `+privRoom+" as guest "+hostPIN)
		if rep.Failed || !strings.Contains(rep.Text, "moved Bob Smith") {
			t.Fatalf("reply %+v", rep)
		}
		if ops := f.participantOps(); !slices.Equal(ops, []string{"participant/transfer " + f.people["Bob Smith"]}) {
			t.Errorf("called %v", ops)
		}
		if rep := f.do(chat.Host, "transfer tables "+privRoom+" 1 2"); !rep.Failed || !strings.HasPrefix(rep.Text, "Usage: transfer") {
			t.Errorf("two PINs: %+v", rep)
		}
	})
}

func TestConferenceCommands(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)

	t.Run("MuteGuests", func(t *testing.T) {
		rep := f.do(chat.Host, "mute GUESTS")
		if rep.Text != "muted all guests" || !f.pub.State().GuestsMuted {
			t.Errorf("reply %+v, guests muted %v", rep, f.pub.State().GuestsMuted)
		}
	})
	t.Run("QuotedGuestsIsAName", func(t *testing.T) {
		f.sim.ResetRequests()
		rep := f.do(chat.Host, `unmute "guests"`)
		mustContain(t, rep, `No one called "guests"`)
		if ops := f.ops(); len(ops) != 0 {
			t.Errorf("called %v", ops)
		}
	})
	t.Run("Lock", func(t *testing.T) {
		rep := f.do(chat.Host, "lock")
		if !rep.Public || !f.pub.State().Locked {
			t.Errorf("reply %+v, locked %v", rep, f.pub.State().Locked)
		}
	})
	t.Run("AdmitAll", func(t *testing.T) {
		carol := f.pub.Join(sim.ParticipantSpec{Name: "Carol", Waiting: true})
		f.refresh(t)
		rep := f.do(chat.Host, "admit all")
		if rep.Text != "admitted Carol" {
			t.Errorf("reply %+v", rep)
		}
		if p := simParticipant(t, f.pub, carol); p.ServiceType != "conference" {
			t.Errorf("Carol is %s", p.ServiceType)
		}
		f.refresh(t)
		if rep := f.do(chat.Host, "admit all"); !rep.Failed {
			t.Errorf("admit all with no one waiting: %+v", rep)
		}
	})
	t.Run("DialAsGuest", func(t *testing.T) {
		f.sim.ResetRequests()
		rep := f.do(chat.Host, "dial bob@example.com sip as guest name Bob's Laptop")
		if rep.Failed || !rep.Public {
			t.Fatalf("reply %+v", rep)
		}
		reqs := f.sim.Requests()
		i := slices.IndexFunc(reqs, func(r sim.RecordedRequest) bool { return r.Op == "dial" })
		if i < 0 {
			t.Fatalf("no dial request in %v", f.ops())
		}
		body := string(reqs[i].Body)
		for _, want := range []string{`"destination":"bob@example.com"`, `"protocol":"sip"`, `"role":"guest"`, `"remote_display_name":"Bob's Laptop"`} {
			if !strings.Contains(body, want) {
				t.Errorf("dial body %s lacks %s", body, want)
			}
		}
	})
	t.Run("Say", func(t *testing.T) {
		f.do(chat.Host, `say  Hello, "everyone"  — 你好`)
		msgs := f.pub.State().Messages
		if len(msgs) == 0 || msgs[len(msgs)-1].Payload != `Olivia: Hello, "everyone"  — 你好` {
			t.Errorf("messages %+v", msgs)
		}
	})
	t.Run("Layout", func(t *testing.T) {
		rep := f.do(chat.Host, "layout １：７")
		ls := f.pub.State().Layouts
		if rep.Failed || len(ls) != 2 || ls[0].Layout != "1:7" || ls[1].Layout != "1:7" {
			t.Errorf("reply %+v, layouts %+v", rep, ls)
		}
		if rep := f.do(chat.Host, "layout 3:3"); !rep.Failed {
			t.Errorf("bad layout: %+v", rep)
		}
	})
	t.Run("EndAsksToConfirm", func(t *testing.T) {
		f.sim.ResetRequests()
		rep := f.do(chat.Host, "end")
		if rep.Confirm == nil || rep.Confirm.Command != "end confirm" || rep.Public {
			t.Fatalf("reply %+v, want a private confirmation", rep)
		}
		if ops := f.ops(); len(ops) != 0 {
			t.Errorf("end without confirm called %v", ops)
		}
		rep = f.do(chat.Host, rep.Confirm.Command)
		if !rep.Public || !slices.Contains(f.ops(), "disconnect") {
			t.Errorf("end confirm: %+v, ops %v", rep, f.ops())
		}
	})
}

func TestWho(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	f.pub.Join(sim.ParticipantSpec{Name: "Carol", Waiting: true})
	f.refresh(t)
	rep := f.do(chat.Host, "LIST")
	if rep.Table == nil || len(rep.Table.Rows) != 5 {
		t.Fatalf("reply %+v", rep)
	}
	carol := rep.Table.Rows[4]
	if carol.Cells[0] != "Carol" || carol.Cells[4] != "waiting" {
		t.Errorf("Carol's row %+v", carol)
	}
	var labels []string
	for _, a := range carol.Actions {
		labels = append(labels, a.Label)
	}
	if !slices.Equal(labels, []string{"Mute", "Admit", "Kick"}) {
		t.Errorf("Carol's actions %v", labels)
	}
	rep = f.do(chat.Member, "who")
	for _, row := range rep.Table.Rows {
		if len(row.Actions) > 0 {
			t.Errorf("a member sees actions: %+v", row)
		}
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		rights chat.Rights
		text   string
		want   string
	}{
		{chat.Member, "mute Bob", "You need host rights for mute."},
		{chat.Host, "link 1061 1234", "You need channel admin rights for link."},
		{chat.Anyone, "who", "You need member rights for who."},
		{chat.Host, "mute Bob", notLinked},
		{chat.Host, "mtue Bob", `Unknown command "mtue". Did you mean mute? Try: help`},
		{chat.Host, "frobnicate", `Unknown command "frobnicate". Try: help`},
		{chat.Host, "dtmf Alice Zhang 1234", `Usage: dtmf <name> <digits>. Put a name with spaces in quotes: "Alice Zhang".`},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			f.sim.ResetRequests()
			rep := f.do(tt.rights, tt.text)
			if rep.Text != tt.want || !rep.Failed || rep.Public {
				t.Errorf("reply %+v, want private failure %q", rep, tt.want)
			}
			if ops := f.ops(); len(ops) != 0 {
				t.Errorf("called %v", ops)
			}
		})
	}
	es, _ := f.store.RecentAudit(context.Background(), f.ch, 10)
	if len(es) == 0 || es[len(es)-1].Outcome != "You need host rights for mute." {
		t.Errorf("the refused mute is not audited: %+v", es)
	}
}

func TestHelpReplies(t *testing.T) {
	f := newFixture(t)
	rep := f.do(chat.Anyone, "help mute")
	if rep.Failed || rep.Public || !strings.HasPrefix(rep.Text, "mute <name>") {
		t.Errorf("help mute: %+v", rep)
	}
	if rep := f.do(chat.Anyone, ""); !strings.HasPrefix(rep.Text, "Commands") {
		t.Errorf("empty request: %+v", rep)
	}
	f.link(t, privRoom+" "+hostPIN)
	rep = f.do(chat.Anyone, "/meet help")
	mustContain(t, rep, "private-cloud node", "* layout")
}

// Every command on each kind of node: is the platform called, and what is the user told.
func TestNodeKinds(t *testing.T) {
	type want struct {
		op   string // the platform operation called; "" = none
		says string // part of the reply
	}
	const refused = "This meeting runs on a private-cloud node, which does not support"
	tests := []struct {
		text          string
		public, priva want
	}{
		{"status", want{"service_status", "present"}, want{"service_status", "private-cloud node"}},
		{"who", want{"", "people in"}, want{"", "people in"}},
		{"mute Bobby", want{"participant/mute", "muted Bobby Tables"}, want{"", "silences everyone but the chair"}},
		{"mute Bobby confirm", want{"participant/mute", "muted Bobby Tables"}, want{"participant/mute", "muted Bobby Tables"}},
		{"mute guests", want{"muteguests", "muted all guests"}, want{"muteguests", "muted all guests"}},
		{"unmute Bobby", want{"participant/unmute", "unmuted"}, want{"participant/unmute", "unmuted"}},
		{"unmute guests", want{"unmuteguests", "unmuted all guests"}, want{"unmuteguests", "unmuted all guests"}},
		{"vmute Bobby", want{"participant/hard_vmute", "stopped"}, want{"participant/hard_vmute", "stopped"}},
		{"unvmute Bobby", want{"participant/hard_uvmute", "allowed"}, want{"participant/hard_uvmute", "allowed"}},
		{"end", want{"", ""}, want{"", ""}},
		{"lock", want{"lock", "locked"}, want{"lock", "locked"}},
		{"unlock", want{"unlock", "unlocked"}, want{"unlock", "unlocked"}},
		{"admit Bobby", want{"", "not waiting"}, want{"", refused + " admitting waiting guests."}},
		{"admit all", want{"", "No one is waiting"}, want{"", refused + " admitting waiting guests."}},
		{"start", want{"start_service", "started"}, want{"", "Start has no effect on a private-cloud node"}},
		{"dial 10.0.0.9 h323", want{"dial", "dialling"}, want{"dial", "dialling"}},
		{"dial 10.0.0.9 sip", want{"dial", "dialling"}, want{"dial", "dialling"}},
		{"dial rtmp://x/y rtmp", want{"dial", "dialling"}, want{"", "dials only over sip or h323, not rtmp"}},
		{"dial 1062", want{"dial", "dialling"}, want{"", "dials only over sip or h323, not auto"}},
		{"record start", want{"", "has not configured a recorder"}, want{"", refused + " recording."}},
		{"live start rtmp://live.example.com/app/key", want{"dial", "started streaming"}, want{"", refused + " live streaming."}},
		{"spotlight Bobby", want{"participant/spotlighton", "spotlighted"}, want{"", refused + " spotlight."}},
		{"unspotlight Bobby", want{"participant/spotlightoff", "spotlight off"}, want{"", refused + " spotlight."}},
		{"layout 2:21 hosts", want{"override_layout", "for hosts"}, want{"", refused + " layouts."}},
		{"say hi", want{"message", "said"}, want{"message", "said"}},
		{"dtmf Bobby 1", want{"participant/dtmf", "sent the tones"}, want{"participant/dtmf", "sent the tones"}},
		{"role Bobby guest", want{"participant/role", "a guest"}, want{"", refused + " changing roles."}},
		{"transfer 张 " + privRoom + " " + hostPIN, want{"participant/transfer", "moved 张伟"}, want{"", refused + " transfers."}},
		{"presentation allow Bobby", want{"participant/allowrxpresentation", "receive"}, want{"participant/allowrxpresentation", "receive"}},
		{"delay cancel Bobby", want{"participant/cancel_delay", "cancelled"}, want{"participant/cancel_delay", "cancelled"}},
		{"delay resume Bobby", want{"participant/resume_delay", "resumed"}, want{"participant/resume_delay", "resumed"}},
		{"kick Bobby", want{"participant/disconnect", "disconnected Bobby"}, want{"participant/disconnect", "disconnected Bobby"}},
		{"help", want{"", "Commands"}, want{"", "commands marked * do not work there"}},
		{"notify", want{"", "joins on"}, want{"", "joins on"}},
		{"timezone UTC", want{"", "now read in UTC"}, want{"", "now read in UTC"}},
		{`schedule "0 9 * * *" lock`, want{"", "scheduled #"}, want{"", "scheduled #"}},
		{`schedule "0 9 * * *" layout 1:7`, want{"", "scheduled #"}, want{"", refused + " layouts."}},
		{"schedules", want{"", "scheduled here"}, want{"", "scheduled here"}},
		{"unschedule 1", want{"", "removed schedule #1"}, want{"", "removed schedule #1"}},
		{"audit 1", want{"", "newest first"}, want{"", "newest first"}},
		{"link 1061 1234", want{"", "already linked"}, want{"", "already linked"}},
		{"unlink", want{"", "unlinked"}, want{"", "unlinked"}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[strings.Fields(tt.text)[0]] = true
	}
	for _, c := range newRegistry().commands {
		if !covered[c.name] {
			t.Errorf("%s is not in the node-kind table", c.name)
		}
	}
	for _, kind := range []string{"public", "private"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t)
			room := pubRoom
			if kind == "private" {
				room = privRoom
			}
			f.link(t, room+" "+hostPIN)
			for _, tt := range tests {
				w := tt.public
				if kind == "private" {
					w = tt.priva
				}
				t.Run(tt.text, func(t *testing.T) {
					f.sim.ResetRequests()
					rep := f.do(chat.Admin, tt.text)
					ops := f.ops()
					switch {
					case w.op == "" && len(ops) != 0:
						t.Errorf("called %v, want nothing", ops)
					case w.op != "" && !slices.Contains(ops, w.op):
						t.Errorf("called %v, want %s (reply %q)", ops, w.op, rep.Text)
					}
					text := rep.Text
					if rep.Confirm != nil {
						text += rep.Confirm.Prompt
					}
					if !strings.Contains(text, w.says) {
						t.Errorf("reply %q, want %q", text, w.says)
					}
				})
			}
		})
	}
}

func TestPrivateMuteConfirmsWithUUID(t *testing.T) {
	f := newFixture(t)
	f.link(t, privRoom+" "+hostPIN)
	rep := f.do(chat.Host, "mute 张伟")
	if rep.Confirm == nil {
		t.Fatalf("reply %+v, want a confirmation", rep)
	}
	want := "mute id:" + f.private["张伟"] + " confirm"
	if rep.Confirm.Command != want {
		t.Errorf("confirm command %q, want %q", rep.Confirm.Command, want)
	}
	if p := simParticipant(t, f.priv, f.private["张伟"]); p.Muted || f.priv.State().PrivateMuteAll {
		t.Error("mute ran before it was confirmed")
	}
	if rep := f.do(chat.Host, rep.Confirm.Command); rep.Text != "muted 张伟" || !f.priv.State().PrivateMuteAll {
		t.Errorf("confirmed mute: %+v", rep)
	}
}

func TestNamesCountsTheRest(t *testing.T) {
	var ps []meetings.Participant
	for i := range 12 {
		ps = append(ps, meetings.Participant{DisplayName: fmt.Sprint("P", i)})
	}
	if got := names(ps); got != "P0, P1, P2, P3, P4, P5, P6, P7, P8, P9 and 2 others" {
		t.Errorf("names = %q", got)
	}
	if got := names(ps[:3]); got != "P0, P1 and P2" {
		t.Errorf("names = %q", got)
	}
}

func TestChannelSettings(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	mustContain(t, f.do(chat.Admin, "notify"), "joins on", "chat off", "thread on")
	if rep := f.do(chat.Admin, "notify chat on"); !rep.Public {
		t.Errorf("notify chat on: %+v", rep)
	}
	f.do(chat.Admin, "notify thread off")
	s, _ := f.store.GetSettings(ctx, f.ch)
	if !s.Chat || s.Threaded || !s.Joins {
		t.Errorf("settings %+v", s)
	}
	if rep := f.do(chat.Admin, "notify chat maybe"); !rep.Failed {
		t.Errorf("bad notify: %+v", rep)
	}
	f.do(chat.Admin, "timezone Asia/Shanghai")
	if s, _ := f.store.GetSettings(ctx, f.ch); s.TimeZone != "Asia/Shanghai" {
		t.Errorf("time zone %q", s.TimeZone)
	}
	if rep := f.do(chat.Admin, "timezone Mars/Olympus"); !rep.Failed {
		t.Errorf("bad zone: %+v", rep)
	}
	rep := f.do(chat.Admin, "audit 3")
	if rep.Table == nil || len(rep.Table.Rows) != 3 || rep.Table.Rows[0].Cells[2] != "timezone Mars/Olympus" {
		t.Errorf("audit: %+v", rep.Table)
	}
}

func TestSchedule(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	f.do(chat.Admin, "timezone Europe/Berlin")

	rep := f.do(chat.Host, `schedule "0 9 * * 1-5" mute guests`)
	if rep.Failed || !rep.Public {
		t.Fatalf("schedule: %+v", rep)
	}
	if len(f.sched.added) != 1 {
		t.Fatalf("added %+v", f.sched.added)
	}
	got := f.sched.added[0]
	if got.Spec != "0 9 * * 1-5" || got.Command != "mute guests" || got.TimeZone != "Europe/Berlin" || got.Rights != chat.Host || got.CreatedBy != f.user {
		t.Errorf("schedule %+v", got)
	}
	// Unquoted five cron fields work too.
	if rep := f.do(chat.Host, "schedule 30 17 * * 5 lock"); rep.Failed || f.sched.added[1].Spec != "30 17 * * 5" {
		t.Errorf("unquoted cron: %+v", rep)
	}
	// A quoted word stays quoted, so a person called guests stays a name.
	if rep := f.do(chat.Host, `schedule "0 8 * * *" unmute "guests"`); rep.Failed || f.sched.added[2].Command != `unmute "guests"` {
		t.Errorf("quoted name: %+v, stored %q", rep, f.sched.added[2].Command)
	}
	f.do(chat.Host, "unschedule 3")
	for _, tt := range []struct {
		rights chat.Rights
		text   string
		says   string
	}{
		{chat.Host, `schedule "0 9 * * *" frobnicate`, "Unknown command"},
		{chat.Host, `schedule "0 9 * * *" link 1061 1234`, "link cannot be scheduled"},
		{chat.Host, `schedule "0 9 * * *" layout`, "Usage: layout"},
		{chat.Member, `schedule "0 9 * * *" lock`, "You need host rights for schedule."},
	} {
		if rep := f.do(tt.rights, tt.text); !rep.Failed || !strings.Contains(rep.Text, tt.says) {
			t.Errorf("%s: %+v, want %q", tt.text, rep, tt.says)
		}
	}
	rep = f.do(chat.Host, `schedule "2030-01-01 18:00" end`)
	if rep.Confirm == nil || rep.Confirm.Command != `schedule "2030-01-01 18:00" end confirm` {
		t.Fatalf("schedule end: %+v", rep)
	}
	if rep := f.do(chat.Host, rep.Confirm.Command); rep.Failed || f.sched.added[2].Command != "end confirm" || !f.sched.added[2].OneTime {
		t.Errorf("confirmed: %+v %+v", rep, f.sched.added)
	}
	if rep := f.do(chat.Host, "schedules"); rep.Table == nil || len(rep.Table.Rows) != 3 {
		t.Errorf("schedules: %+v", rep)
	}
	if rep := f.do(chat.Host, "unschedule 2"); rep.Failed {
		t.Errorf("unschedule: %+v", rep)
	}
	if rep := f.do(chat.Host, "unschedule 2"); !strings.Contains(rep.Text, "no schedule #2") {
		t.Errorf("unschedule twice: %+v", rep)
	}
	f.sched.err = &userError{msg: "That time is in the past."}
	if rep := f.do(chat.Host, `schedule "2001-01-01 10:00" lock`); rep.Text != "That time is in the past." {
		t.Errorf("scheduler's own message: %+v", rep)
	}
}

func TestUnsafeErrorsAnswerWithRef(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	var outcomes []string
	var mu sync.Mutex
	observe := func(cmd, outcome string, d time.Duration) {
		mu.Lock()
		outcomes = append(outcomes, cmd+" "+outcome)
		mu.Unlock()
	}
	for _, tt := range []struct {
		name string
		m    errorsMeetings
		want string
	}{
		{"Error", errorsMeetings{testMeetings: f.meet, err: errors.New("database on fire")}, "mute error"},
		{"Panic", errorsMeetings{testMeetings: f.meet, panic: true}, "mute panic"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{Store: f.store, Client: f.client, Meetings: tt.m, Logger: f.router.log, Observer: observe})
			rep := r.Handle(context.Background(), chat.Request{Channel: f.ch, User: f.user, Rights: chat.Host, Text: "mute Bob"})
			if !rep.Failed || !strings.HasPrefix(rep.Text, "Something went wrong (ref ") {
				t.Fatalf("reply %+v", rep)
			}
			ref := strings.TrimSuffix(strings.TrimPrefix(rep.Text, "Something went wrong (ref "), ")")
			if n := strings.Count(f.logs.String(), "ref="+ref); n != 1 {
				t.Errorf("ref %s logged %d times:\n%s", ref, n, f.logs.String())
			}
			if strings.Contains(rep.Text, "fire") || strings.Contains(rep.Text, "exploded") {
				t.Errorf("reply leaks the error: %q", rep.Text)
			}
		})
	}
	if !strings.Contains(f.logs.String(), "goroutine") {
		t.Error("the panic was logged without its stack")
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(outcomes, []string{"mute error", "mute panic"}) {
		t.Errorf("observer saw %v", outcomes)
	}
}

func TestPlatformReasonsAreShown(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+guestPIN)
	rep := f.do(chat.Host, "lock")
	if !rep.Failed || !strings.HasPrefix(rep.Text, "The platform answered: ") || !strings.Contains(rep.Text, "host PIN") {
		t.Errorf("a guest bot locking: %+v", rep)
	}
	if f.pub.State().Locked {
		t.Error("the meeting got locked")
	}
}

func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			text := []string{"mute Bob Smith", `mute "Bob Smith"`, "who", "status", "unmute tables", "help mute"}[i%6]
			rep := f.do(chat.Host, text)
			if rep.Text == "" {
				t.Errorf("%s: empty reply", text)
			}
		})
	}
	wg.Wait()
}

func TestScheduledRunNeverWaitsForConfirmation(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	f.sim.ResetRequests()
	rep := f.router.Handle(context.Background(), chat.Request{Channel: f.ch, User: f.user, Rights: chat.Host, Text: "end", Scheduled: true})
	if !rep.Failed || rep.Confirm != nil || !strings.Contains(rep.Text, "confirm") {
		t.Errorf("scheduled end without confirm: %+v", rep)
	}
	if ops := f.ops(); len(ops) != 0 {
		t.Errorf("called %v", ops)
	}
	// The scheduler audits its runs under the schedule's number; the core adds nothing.
	if es, _ := f.store.RecentAudit(context.Background(), f.ch, 5); len(es) != 1 || es[0].Command == "end" {
		t.Errorf("audit after a scheduled run = %+v, want only the link", es)
	}
}

// FuzzHandleParse feeds any text to the parser, rights checks and name matching: no panic, and a
// reply with text for every request that does not reach the platform.
func FuzzHandleParse(f *testing.F) {
	for _, s := range []string{"mute Bob", "ＭＵＴＥ　張", `link "x`, "/meet help mute", "dial a as", "schedule \"", ""} {
		f.Add(s)
	}
	r := New(Config{})
	people := []person{{uuid: "3f2a1b9c-1", name: "Bob Smith"}, {uuid: "77aa", name: "张伟"}}
	f.Fuzz(func(t *testing.T, s string) {
		c, rep, ok := r.parse(chat.Request{Text: s, Rights: chat.Admin})
		if !ok && rep.Text == "" {
			t.Fatalf("no reply for %q", s)
		}
		if ok {
			_ = c.text()
			for i := range c.args {
				match(c.word(i), people)
			}
			// Written back, the command reads as the same command with the same words.
			again, _, ok2 := r.parse(chat.Request{Text: c.line(nil, c.confirmed)})
			if !ok2 || again.cmd != c.cmd || again.confirmed != c.confirmed || !slices.Equal(again.args, c.args) {
				t.Fatalf("%q written back as %q reads differently", s, c.line(nil, c.confirmed))
			}
		}
	})
}

func TestLinkCache(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	if rep := f.do(chat.Host, "lock"); rep.Failed {
		t.Fatalf("lock: %+v", rep)
	}
	// Another replica unlinks the channel: with LinkTTL negative the next command sees it at once.
	if err := f.store.DeleteLink(ctx, f.ch); err != nil {
		t.Fatal(err)
	}
	fresh := New(Config{Store: f.store, Client: f.client, Meetings: f.meet, LinkTTL: -1})
	rep := fresh.Handle(ctx, chat.Request{Channel: f.ch, User: f.user, Rights: chat.Host, Text: "unlock"})
	if rep.Text != notLinked {
		t.Errorf("after an unlink elsewhere: %+v", rep)
	}
	// A channel without a link is never remembered as unlinked: linking elsewhere shows at once.
	f.link(t, pubRoom+" "+hostPIN)
	if rep := f.do(chat.Host, "unlock"); rep.Failed {
		t.Errorf("unlock after relinking: %+v", rep)
	}
}

func TestSkipWords(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"say hello  world ", 1, "hello  world"},
		{"/meet say\u3000你好", 2, "你好"},
		{"say「引用」", 1, "「引用」"},
		{"say", 1, ""},
	} {
		if got := skipWords(tt.in, tt.n); got != tt.want {
			t.Errorf("skipWords(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// A guest who names a second device after their own uuid prefix must not redirect the buttons,
// choices and confirmations the bot hands out: each names its participant by the whole uuid.
func TestButtonsActOnTheirRowNotADecoy(t *testing.T) {
	rowAction := func(t *testing.T, rep chat.Reply, name, label string) string {
		t.Helper()
		if rep.Table == nil {
			t.Fatalf("who: %+v", rep)
		}
		for _, row := range rep.Table.Rows {
			if row.Cells[0] != name {
				continue
			}
			for _, a := range row.Actions {
				if a.Label == label {
					return a.Command
				}
			}
		}
		t.Fatalf("no %s button on %s's row", label, name)
		return ""
	}
	t.Run("RowButtons", func(t *testing.T) {
		f := newFixture(t)
		f.link(t, pubRoom+" "+hostPIN)
		eve := f.pub.Join(sim.ParticipantSpec{Name: "Eve"})
		decoy := f.pub.Join(sim.ParticipantSpec{Name: eve[:8]})
		f.refresh(t)
		who := f.do(chat.Host, "who")
		for _, label := range []string{"Mute", "Kick"} {
			f.sim.ResetRequests()
			cmd := rowAction(t, who, "Eve", label)
			rep := f.do(chat.Host, cmd)
			if rep.Failed {
				t.Fatalf("%s button %q: %+v", label, cmd, rep)
			}
			ops := f.participantOps()
			if len(ops) != 1 || !strings.HasSuffix(ops[0], " "+eve) {
				t.Errorf("%s button on Eve's row called %v, want Eve (%s), not the decoy (%s)", label, ops, eve, decoy)
			}
		}
		if _, ok := f.pub.Participant(eve); ok {
			t.Error("Eve is still in the meeting after Kick on her row")
		}
		if _, ok := f.pub.Participant(decoy); !ok {
			t.Error("the decoy was kicked")
		}
	})
	t.Run("Choices", func(t *testing.T) {
		f := newFixture(t)
		f.link(t, pubRoom+" "+hostPIN)
		eve := f.pub.Join(sim.ParticipantSpec{Name: "Eve Smith"})
		f.pub.Join(sim.ParticipantSpec{Name: "Eve Jones"})
		decoy := f.pub.Join(sim.ParticipantSpec{Name: eve[:8]})
		f.refresh(t)
		rep := f.do(chat.Host, "kick eve")
		i := slices.IndexFunc(rep.Choices, func(a chat.Action) bool { return a.Label == "Eve Smith (guest)" })
		if i < 0 {
			t.Fatalf("choices %+v", rep.Choices)
		}
		f.sim.ResetRequests()
		if rep := f.do(chat.Host, rep.Choices[i].Command); rep.Text != "disconnected Eve Smith" {
			t.Errorf("choice %q: %+v", rep.Choices[i].Command, rep)
		}
		if ops := f.participantOps(); !slices.Equal(ops, []string{"participant/disconnect " + eve}) {
			t.Errorf("the choice for Eve Smith called %v", ops)
		}
		if _, ok := f.pub.Participant(decoy); !ok {
			t.Error("the decoy was kicked")
		}
	})
	t.Run("PrivateMuteConfirmation", func(t *testing.T) {
		f := newFixture(t)
		f.link(t, privRoom+" "+hostPIN)
		eve := f.priv.Join(sim.ParticipantSpec{Name: "Eve"})
		f.priv.Join(sim.ParticipantSpec{Name: eve[:8]})
		f.refresh(t)
		rep := f.do(chat.Host, "mute Eve")
		if rep.Confirm == nil {
			t.Fatalf("reply %+v, want a confirmation", rep)
		}
		if rep := f.do(chat.Host, rep.Confirm.Command); rep.Text != "muted Eve" {
			t.Errorf("confirmed %q: %+v, want Eve muted", rep.Confirm.Command, rep)
		}
	})
	t.Run("TypedPrefixStillWorksAndADecoyMakesItAmbiguous", func(t *testing.T) {
		f := newFixture(t)
		f.link(t, pubRoom+" "+hostPIN)
		eve := f.pub.Join(sim.ParticipantSpec{Name: "Eve"})
		f.refresh(t)
		if rep := f.do(chat.Host, "vmute "+eve[:8]); rep.Text != "stopped Eve's video" {
			t.Fatalf("typed uuid prefix: %+v", rep)
		}
		f.pub.Join(sim.ParticipantSpec{Name: eve[:8]})
		f.refresh(t)
		f.sim.ResetRequests()
		rep := f.do(chat.Host, "kick "+eve[:8])
		if len(rep.Choices) != 2 {
			t.Errorf("kick %s with a decoy of that name: %+v, want two choices", eve[:8], rep)
		}
		if ops := f.participantOps(); len(ops) != 0 {
			t.Errorf("an ambiguous prefix called %v", ops)
		}
	})
	t.Run("GoneParticipant", func(t *testing.T) {
		f := newFixture(t)
		f.link(t, pubRoom+" "+hostPIN)
		f.sim.ResetRequests()
		rep := f.do(chat.Host, "kick id:00000000-0000-4000-8000-00000000dead")
		if !rep.Failed || !strings.Contains(rep.Text, "no longer in the meeting") {
			t.Errorf("reply %+v", rep)
		}
		if ops := f.participantOps(); len(ops) != 0 {
			t.Errorf("called %v", ops)
		}
	})
}

// Failures a user can only wait out or check get one plain line and a typed outcome, not
// "Something went wrong".
func TestTypedFailuresAnswerPlainly(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	for _, tt := range []struct {
		name    string
		st      store.Store
		m       Meetings
		text    string
		want    string
		outcome string
	}{
		{"OutcomeUnknown", f.store, errorsMeetings{testMeetings: f.meet, err: fmt.Errorf("dial: %w",
			&meetings.Error{Op: "dial", Status: 502, Reason: "Bad Gateway", Kind: meetings.ErrOutcomeUnknown})},
			"mute Bob", "The platform did not confirm the mute; check `who` before trying again.", "unknown"},
		{"PlatformUnresponsive", f.store, errorsMeetings{testMeetings: f.meet, err: fmt.Errorf("participants: %w: %w",
			meetings.ErrPlatformUnresponsive, context.DeadlineExceeded)},
			"kick Bob", "The meeting's platform is not answering; try again in a minute.", "unavailable"},
		// The database going away is TestDatabaseGoneAnswersPlainly, against PostgreSQL.
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			r := New(Config{Store: tt.st, Client: f.client, Meetings: tt.m, Logger: f.router.log, LinkTTL: -1,
				Observer: func(cmd, outcome string, d time.Duration) { got = append(got, outcome) }})
			f.sim.ResetRequests()
			before := strings.Count(f.logs.String(), "command failed")
			rep := r.Handle(context.Background(), chat.Request{Channel: f.ch, User: f.user, Rights: chat.Host, Text: tt.text})
			if rep.Text != tt.want || !rep.Failed || rep.Public {
				t.Errorf("reply %+v, want private failure %q", rep, tt.want)
			}
			if !slices.Equal(got, []string{tt.outcome}) {
				t.Errorf("outcome %v, want %s", got, tt.outcome)
			}
			if strings.Count(f.logs.String(), "command failed") != before {
				t.Error("a typed failure was logged as an unexplained error")
			}
			if ops := f.ops(); len(ops) != 0 {
				t.Errorf("called %v", ops)
			}
		})
	}
}

// A link sealed under another secret key is removed by unlink without being read.
func TestUnlinkSealedUnderAnotherKey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "meetbot.db")
	old, err := sqlite.Open(ctx, path, bytes.Repeat([]byte{1}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := old.PutLink(ctx, store.Link{Channel: f.ch, Meeting: store.MeetingRef{APIServer: f.srv.URL, Room: pubRoom},
		Node: "node", PIN: chat.Secret(hostPIN), Role: "HOST", Cloud: "public"}); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, path, bytes.Repeat([]byte{2}, 32), nil) // the bot restarted with a new key
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := New(Config{Store: st, Client: f.client, Meetings: f.meet, Logger: f.router.log})
	do := func(text string) chat.Reply {
		return r.Handle(ctx, chat.Request{Channel: f.ch, User: f.user, Rights: chat.Admin, Text: text})
	}
	if rep := do("lock"); !rep.Failed || !strings.Contains(rep.Text, "sealed under another secret key") {
		t.Errorf("lock on a link sealed under another key: %+v", rep)
	}
	rep := do("unlink")
	if rep.Failed || !rep.Public || !strings.Contains(rep.Text, "sealed under another secret key") {
		t.Fatalf("unlink: %+v", rep)
	}
	if _, err := old.GetLink(ctx, f.ch); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the link is still stored: %v", err)
	}
	if len(f.meet.unfollowed) != 0 {
		t.Errorf("Unfollow called for a link no one could follow: %v", f.meet.unfollowed)
	}
	if strings.Contains(f.logs.String(), hostPIN) || strings.Contains(rep.Text, hostPIN) {
		t.Error("the PIN was shown")
	}
	if rep := do("unlink"); rep.Text != notLinked {
		t.Errorf("unlink again: %+v", rep)
	}
}

func TestScheduleConfirmationPrintsPercentOnce(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	rep := f.do(chat.Host, `schedule "0 9 * * *" say 100% done`)
	if rep.Failed || !strings.Contains(rep.Text, "say 100% done") || strings.Contains(rep.Text, "%%") {
		t.Errorf("reply %q, want the command with one %%", rep.Text)
	}
}
