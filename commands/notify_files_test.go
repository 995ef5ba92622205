package commands

import (
	"context"
	"testing"

	"github.com/meetbot/meetbot/chat"
)

// TestNotifySnapshotsAndReport: both are off by default, an admin turns them on and off, a
// member cannot, and notify alone shows them.
func TestNotifySnapshotsAndReport(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	mustContain(t, f.do(chat.Admin, "notify"), "slide snapshots off", "attendance report off")
	if rep := f.do(chat.Member, "notify snapshots on"); !rep.Failed {
		t.Errorf("a member turned snapshots on: %+v", rep)
	}
	if s, _ := f.store.GetSettings(ctx, f.ch); s.Snapshots {
		t.Fatal("snapshots on after a member's refused notify")
	}
	rep := f.do(chat.Admin, "notify snapshots on")
	if !rep.Public || rep.Failed {
		t.Errorf("notify snapshots on: %+v", rep)
	}
	mustContain(t, rep, "snapshots on", "at most one every 30s")
	rep = f.do(chat.Admin, "notify report on")
	mustContain(t, rep, "attendance report on", "CSV")
	s, _ := f.store.GetSettings(ctx, f.ch)
	if !s.Snapshots || !s.Report || !s.Joins {
		t.Errorf("settings after turning both on: %+v", s)
	}
	mustContain(t, f.do(chat.Admin, "notify"), "slide snapshots on", "attendance report on")
	f.do(chat.Admin, "notify snapshots off")
	mustContain(t, f.do(chat.Admin, "notify report off"), "attendance report off")
	if s, _ := f.store.GetSettings(ctx, f.ch); s.Snapshots || s.Report {
		t.Errorf("settings after turning both off: %+v", s)
	}
}

// TestNotifySnapshotsPrivateNode: on a private-cloud node, which sends no presentation frames,
// the channel is told it will see no snapshots.
func TestNotifySnapshotsPrivateNode(t *testing.T) {
	f := newFixture(t)
	f.link(t, privRoom+" "+hostPIN)
	rep := f.do(chat.Admin, "notify snapshots on")
	mustContain(t, rep, "private-cloud node", "sends no presentation frames")
	if rep.Failed {
		t.Errorf("notify snapshots on failed on a private node: %+v", rep)
	}
}
