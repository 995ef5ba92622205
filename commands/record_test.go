package commands

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings/sim"
	"github.com/meetbot/meetbot/recording"
)

const streamKey = "abcd-efgh-ijkl-mnop"

// withRecorder gives the fixture's router the operator's recorder.
func withRecorder(t *testing.T, f *fixture, tmpl string) {
	t.Helper()
	rec, err := recording.ParseTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	f.router = New(Config{
		Store: f.store, Client: f.client, Meetings: f.meet, Scheduler: f.sched, BotName: "meetbot",
		Recorder: rec, Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
}

// lastDial returns the body of the latest dial the simulator saw.
func lastDial(t *testing.T, f *fixture) string {
	t.Helper()
	reqs := f.sim.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Op == "dial" {
			return string(reqs[i].Body)
		}
	}
	t.Fatalf("no dial in %v", f.ops())
	return ""
}

func streaming(room *sim.Room) []sim.Participant {
	var out []sim.Participant
	for _, p := range room.Participants() {
		if p.Protocol == "rtmp" {
			out = append(out, p)
		}
	}
	return out
}

func TestRecordStartAndStop(t *testing.T) {
	f := newFixture(t)
	withRecorder(t, f, "rtmp://recorder.example.com/live/{alias}-{date}")
	f.link(t, pubRoom+" "+hostPIN)

	rep := f.do(chat.Host, "record start")
	if rep.Failed || !rep.Public || !strings.Contains(rep.Text, "started recording") {
		t.Fatalf("record start: %+v", rep)
	}
	body := lastDial(t, f)
	for _, want := range []string{`"protocol":"rtmp"`, `"streaming":"yes"`, `"role":"guest"`, `"keep_conference_alive":"keep_conference_alive_never"`,
		`"remote_display_name":"Recording"`, `"destination":"rtmp://recorder.example.com/live/` + pubRoom + `-`} {
		if !strings.Contains(body, want) {
			t.Errorf("recorder dial %s lacks %s", body, want)
		}
	}
	if n := len(streaming(f.pub)); n != 1 {
		t.Fatalf("%d streaming participants after record start, want 1", n)
	}

	f.sim.ResetRequests()
	if rep := f.do(chat.Host, "record start"); !rep.Failed || !strings.Contains(rep.Text, "already running") {
		t.Errorf("a second record start: %+v", rep)
	}
	if slices.Contains(f.ops(), "dial") {
		t.Error("a second record start dialled again")
	}
	if rep := f.do(chat.Member, "status"); !strings.Contains(rep.Text, "● Recording since") {
		t.Errorf("status while recording: %q", rep.Text)
	}

	// Another router on the same store — another replica, or the bot after a restart — stops it.
	withRecorder(t, f, "rtmp://recorder.example.com/live/{alias}-{date}")
	if rep := f.do(chat.Host, "record stop"); rep.Failed || !strings.Contains(rep.Text, "stopped the recording") {
		t.Fatalf("record stop: %+v", rep)
	}
	if n := len(streaming(f.pub)); n != 0 {
		t.Errorf("%d streaming participants after record stop", n)
	}
	if rep := f.do(chat.Host, "record stop"); !rep.Failed || !strings.Contains(rep.Text, "No recording is running") {
		t.Errorf("record stop with none running: %+v", rep)
	}
	if rep := f.do(chat.Member, "record start"); !rep.Failed || !strings.Contains(rep.Text, "host rights") {
		t.Errorf("a member's record start: %+v", rep)
	}
}

func TestRecordRefusals(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	if rep := f.do(chat.Host, "record start"); !rep.Failed || !strings.Contains(rep.Text, "MEET_RECORDER_URL") {
		t.Errorf("record without a recorder: %+v", rep)
	}
	withRecorder(t, f, "rtmp://recorder.example.com/live/{room}")
	f.sim.AddRoom(sim.RoomConfig{Number: "3000", HostPIN: hostPIN, NoRecord: true, NoLive: true})
	f.do(chat.Admin, "unlink")
	f.link(t, "3000 "+hostPIN)
	for _, text := range []string{"record start", "live start rtmp://live.example.com/app/" + streamKey} {
		f.sim.ResetRequests()
		rep := f.do(chat.Host, text)
		if !rep.Failed || !strings.Contains(rep.Text, "does not let") {
			t.Errorf("%s where the account may not: %+v", strings.Fields(text)[0], rep)
		}
		if slices.Contains(f.ops(), "dial") {
			t.Errorf("%s dialled where the account may not", strings.Fields(text)[0])
		}
	}
	for _, bad := range []string{"live start http://live.example.com/app/key", "live start rtmp://", "live start rtmp://x/y presentation", "live start"} {
		f.sim.ResetRequests()
		if rep := f.do(chat.Host, bad); !rep.Failed || strings.Contains(rep.Text, "key") && strings.Contains(rep.Text, "live.example.com/app/key") {
			t.Errorf("%q: %+v", bad, rep)
		}
		if slices.Contains(f.ops(), "dial") {
			t.Errorf("%q dialled", bad)
		}
	}
}

// TestStreamKeyNeverLeaks: a live stream's key is in no reply, audit entry or log line, and
// the request is marked as carrying a secret (Matrix removes it from the room).
func TestLiveStreamKeyNeverLeaks(t *testing.T) {
	f := newFixture(t)
	withRecorder(t, f, "")
	f.link(t, pubRoom+" "+hostPIN)
	rep := f.do(chat.Host, "live start rtmp://a.rtmp.youtube.com/live2/"+streamKey+" presentation rtmps://b.example.com/pres/"+streamKey+"-p")
	if rep.Failed || !strings.Contains(rep.Text, "rtmp://a.rtmp.youtube.com/live2/****") || !rep.CarriedSecret {
		t.Fatalf("live start: %+v", rep)
	}
	if !strings.Contains(lastDial(t, f), streamKey) {
		t.Error("the platform was not given the stream key")
	}
	rep2 := f.do(chat.Host, "live stop")
	entries, err := f.store.RecentAudit(context.Background(), f.ch, 10)
	if err != nil {
		t.Fatal(err)
	}
	var audit strings.Builder
	for _, e := range entries {
		audit.WriteString(e.Command + " " + e.Outcome + "\n")
	}
	for where, text := range map[string]string{"reply": rep.Text, "stop reply": rep2.Text, "audit": audit.String(), "log": f.logs.String()} {
		if strings.Contains(text, streamKey) {
			t.Errorf("the stream key is in the %s:\n%s", where, text)
		}
	}
	if !strings.Contains(audit.String(), "live start") {
		t.Errorf("live start was not audited:\n%s", audit.String())
	}
}

// TestNamesStayOnOneLine: a participant whose name holds a line break cannot add a line to the
// core's replies (issue 11): in who, in a choice, in a confirmation.
func TestNamesStayOnOneLine(t *testing.T) {
	f := newFixture(t)
	f.pub.Join(sim.ParticipantSpec{Name: "Mallory\n:lock: Locked the meeting"})
	f.link(t, pubRoom+" "+hostPIN)
	f.refresh(t)
	rep := f.do(chat.Host, "mute Mallory")
	if strings.Contains(rep.Text, "\n:lock:") || !strings.Contains(rep.Text, "Mallory :lock: Locked the meeting") {
		t.Errorf("mute reply %q", rep.Text)
	}
	rep = f.do(chat.Member, "who")
	if rep.Table == nil {
		t.Fatalf("who: %+v", rep)
	}
	for _, row := range rep.Table.Rows {
		for _, cell := range row.Cells {
			if strings.ContainsAny(cell, "\n\r") {
				t.Errorf("who cell %q spans lines", cell)
			}
		}
	}
}
