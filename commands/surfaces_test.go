package commands

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/joinurl"
)

// withJoinURL gives the fixture's router the operator's MEET_JOIN_URL.
func withJoinURL(t *testing.T, f *fixture, tmpl string) {
	t.Helper()
	ju, err := joinurl.Parse(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	f.router = New(Config{
		Store: f.store, Client: f.client, Meetings: f.meet, Scheduler: f.sched, BotName: "meetbot",
		JoinURL: ju, Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
}

func TestJoinURLInStatusAndLink(t *testing.T) {
	f := newFixture(t)
	withJoinURL(t, f, "https://meet.example.com/webapp/#/?conference={number}&name={name}")
	rep := f.do(chat.Admin, "link "+pubRoom+" "+hostPIN)
	want := "https://meet.example.com/webapp/#/?conference=1061&name=Team%20Room"
	if rep.Failed || rep.JoinURL != want {
		t.Errorf("link: JoinURL = %q; want %q (%+v)", rep.JoinURL, want, rep)
	}
	rep = f.do(chat.Member, "status")
	if rep.Failed || rep.JoinURL != want {
		t.Errorf("status: JoinURL = %q; want %q", rep.JoinURL, want)
	}
	if strings.Contains(rep.JoinURL, hostPIN) {
		t.Errorf("the join page carries the PIN: %q", rep.JoinURL)
	}
}

func TestNoJoinURLWithoutTheSetting(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	if rep := f.do(chat.Member, "status"); rep.JoinURL != "" {
		t.Errorf("status without MEET_JOIN_URL: JoinURL = %q", rep.JoinURL)
	}
}

func TestNotifyWaiting(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	mustContain(t, f.do(chat.Admin, "notify"), "waiting on")
	rep := f.do(chat.Admin, "notify waiting off")
	if rep.Failed || !rep.Public || !strings.Contains(rep.Text, "waiting-room alerts off") {
		t.Errorf("notify waiting off: %+v", rep)
	}
	if s, _ := f.store.GetSettings(ctx, f.ch); s.Waiting {
		t.Error("waiting alerts still on in the store")
	}
	mustContain(t, f.do(chat.Admin, "notify"), "waiting off")
	if rep := f.do(chat.Member, "notify waiting on"); !rep.Failed {
		t.Errorf("a member turned waiting alerts on: %+v", rep)
	}
	if s, _ := f.store.GetSettings(ctx, f.ch); s.Waiting {
		t.Error("a member's notify changed the setting")
	}
	f.do(chat.Admin, "notify waiting on")
	if s, _ := f.store.GetSettings(ctx, f.ch); !s.Waiting {
		t.Error("waiting alerts not back on")
	}
}
