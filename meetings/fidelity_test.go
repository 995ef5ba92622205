package meetings_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

// Where the vendor page is silent and Pexip, the platform's lineage, is explicit, the client
// follows Pexip. Each test runs against the simulator's three kinds of node: the default (a
// current public node), a rich one (the newest, with every optional field) and a private-cloud
// one (section 7).

var simModes = []struct {
	name string
	cfg  func(sim.RoomConfig) sim.RoomConfig
}{
	{"default", func(c sim.RoomConfig) sim.RoomConfig { return c }},
	{"rich", func(c sim.RoomConfig) sim.RoomConfig { c.Rich = true; return c }},
	{"private", func(c sim.RoomConfig) sim.RoomConfig { c.Private = true; return c }},
}

// forEachMode runs fn in a room of each kind of node, with the bot's session listening.
func forEachMode(t *testing.T, base sim.RoomConfig, fn func(t *testing.T, e *env, private bool, room *sim.Room, s *meetings.Session, ev *events)) {
	for _, mode := range simModes {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
			room := e.sim.AddRoom(mode.cfg(base))
			s := e.open(base.Number, base.HostPIN)
			ev := listen(t, s)
			ev.synced()
			fn(t, e, mode.name == "private", room, s, ev)
		})
	}
}

var weekly = sim.RoomConfig{Number: "1061", Alias: "zjvmr@myvmr.cn", Name: "Weekly", HostPIN: "1234", GuestPIN: "5678"}

// joined waits for uuid's join: participant_create, or participant_update on a private node.
func joined(ev *events, uuid string) meetings.Participant {
	ev.t.Helper()
	e := ev.until("join of "+uuid, func(e meetings.Event) bool {
		switch e := e.(type) {
		case meetings.ParticipantCreated:
			return e.Participant.UUID == uuid
		case meetings.ParticipantUpdated:
			return e.Participant.UUID == uuid
		}
		return false
	})
	if c, ok := e.(meetings.ParticipantCreated); ok {
		return c.Participant
	}
	return e.(meetings.ParticipantUpdated).Participant
}

// Pexip's transfer takes the role "host" or "guest" (its schema allows nothing else), so
// `transfer … as chair` must send "host"; the participant arrives in the other room as a chair.
func TestTransferSendsHostForChair(t *testing.T) {
	forEachMode(t, weekly, func(t *testing.T, e *env, private bool, room *sim.Room, s *meetings.Session, ev *events) {
		other := e.sim.AddRoom(sim.RoomConfig{Number: "2000", Alias: "other@example.com", HostPIN: "9999"})
		bob := room.Join(sim.ParticipantSpec{Name: "Bob"})
		joined(ev, bob)
		err := s.Transfer(context.Background(), bob, meetings.TransferRequest{Room: "other@example.com", PIN: "9999", Role: "chair"})
		if body := lastBody(t, e.sim, "participant/transfer"); body["role"] != "host" {
			t.Errorf("transfer sent role %v, want host", body["role"])
		}
		if private {
			// Section 7: a private node does not support transfer.
			if err == nil {
				t.Error("a private node transferred someone")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := other.Participant(bob); !ok || p.Role != "chair" {
			t.Errorf("Bob in the other room: %+v (present %v), want a chair", p, ok)
		}
	})
}

// lastBody returns the JSON body of the last request of op the simulator saw.
func lastBody(t *testing.T, srv *sim.Server, op string) map[string]any {
	t.Helper()
	rs := srv.Requests()
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Op == op {
			var m map[string]any
			if err := json.Unmarshal(rs[i].Body, &m); err != nil {
				t.Fatalf("%s body %q: %v", op, rs[i].Body, err)
			}
			return m
		}
	}
	t.Fatalf("no %s request", op)
	return nil
}

// Only text/plain messages that are not direct are chat for everyone: an application's JSON
// message and a private message to the bot are told apart.
func TestChatForEveryone(t *testing.T) {
	forEachMode(t, weekly, func(t *testing.T, e *env, private bool, room *sim.Room, s *meetings.Session, ev *events) {
		ann := room.Join(sim.ParticipantSpec{Name: "Ann"})
		joined(ev, ann)
		room.Chat(ann, "hello all")
		room.Message(ann, "application/json", `{"type":"reaction","emoji":"👍"}`, "")
		room.Message(ann, "text/plain", "psst, bot", s.Info().ParticipantUUID)
		var got []meetings.MessageReceived
		for len(got) < 3 {
			if m, ok := ev.next().(meetings.MessageReceived); ok {
				got = append(got, m)
			}
		}
		for i, want := range []struct {
			payload      string
			direct, chat bool
		}{{"hello all", false, true}, {`{"type":"reaction","emoji":"👍"}`, false, false}, {"psst, bot", true, false}} {
			m := got[i]
			if m.Payload != want.payload || m.Direct != want.direct || m.ForEveryone() != want.chat || m.UUID != ann {
				t.Errorf("message %d = %+v (ForEveryone %v), want payload %q direct %v for everyone %v",
					i, m, m.ForEveryone(), want.payload, want.direct, want.chat)
			}
		}
	})
}

// A presentation_start whose presenter name, uri and uuid are all empty is Pexip's revocation:
// it arrives as PresentationStopped, never as someone without a name presenting.
func TestPresentationRevoked(t *testing.T) {
	forEachMode(t, weekly, func(t *testing.T, e *env, private bool, room *sim.Room, s *meetings.Session, ev *events) {
		ann := room.Join(sim.ParticipantSpec{Name: "Ann Lee"})
		joined(ev, ann)
		room.Present(ann, true)
		start := ev.until("presentation_start", is[meetings.PresentationStarted]).(meetings.PresentationStarted)
		if start.PresenterName != "Ann Lee" || start.PresenterUUID != ann {
			t.Errorf("presentation_start = %+v, want Ann Lee and her uuid", start)
		}
		room.RevokePresentation()
		got := ev.until("the revocation", func(e meetings.Event) bool {
			return is[meetings.PresentationStarted](e) || is[meetings.PresentationStopped](e)
		})
		if _, ok := got.(meetings.PresentationStopped); !ok {
			t.Errorf("revocation delivered as %#v, want PresentationStopped", got)
		}
	})
}

// Newer nodes say which host commands they support for a participant; the client exposes it, and
// true is the default when a node does not say.
func TestCapabilityFlags(t *testing.T) {
	forEachMode(t, weekly, func(t *testing.T, e *env, private bool, room *sim.Room, s *meetings.Session, ev *events) {
		ctx := context.Background()
		ann := room.Join(sim.ParticipantSpec{Name: "Ann"})
		if p := joined(ev, ann); p.NoMute || p.NoDisconnect || p.NoTransfer {
			t.Errorf("a participant the node fully supports: %+v", p)
		}
		gw := room.Join(sim.ParticipantSpec{Name: "Gateway call", Protocol: "sip", Unsupported: sim.Unsupported{Mute: true}})
		if p := joined(ev, gw); !p.NoMute || p.NoDisconnect || p.NoTransfer {
			t.Errorf("a participant the node cannot mute: mute %v disconnect %v transfer %v", !p.NoMute, !p.NoDisconnect, !p.NoTransfer)
		}
		room.SetUnsupported(ann, sim.Unsupported{Disconnect: true, Transfer: true})
		up := ev.until("the update", func(e meetings.Event) bool {
			u, ok := e.(meetings.ParticipantUpdated)
			return ok && u.Participant.UUID == ann
		}).(meetings.ParticipantUpdated)
		if p := up.Participant; p.NoMute || !p.NoDisconnect || !p.NoTransfer {
			t.Errorf("after the node withdrew disconnect and transfer: mute %v disconnect %v transfer %v", !p.NoMute, !p.NoDisconnect, !p.NoTransfer)
		}
		ps, err := s.Participants(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.UUID == gw && !p.NoMute {
				t.Error("participants: the gateway call is reported mutable")
			}
		}
		// The node itself refuses what it says it does not support.
		if err := s.Mute(ctx, gw); !errors.Is(err, meetings.ErrRefused) {
			t.Errorf("mute of a participant the node cannot mute: %v, want ErrRefused", err)
		}
		if err := s.Kick(ctx, ann); !errors.Is(err, meetings.ErrRefused) {
			t.Errorf("kick of a participant the node cannot disconnect: %v, want ErrRefused", err)
		}
	})
}

// A meeting that waits for a host has started false in service_status and service_update until a
// host with media joins; start_service starts it on a public node and does nothing on a private
// one (section 7).
func TestStartedWaitsForHost(t *testing.T) {
	cfg := weekly
	cfg.WaitForHost = true
	forEachMode(t, cfg, func(t *testing.T, e *env, private bool, room *sim.Room, s *meetings.Session, ev *events) {
		ctx := context.Background()
		st, err := s.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Started {
			t.Fatal("a meeting waiting for a host reports started")
		}
		early := room.Join(sim.ParticipantSpec{Name: "Early guest"})
		if p := joined(ev, early); !p.Waiting() {
			t.Errorf("a guest before the host: service type %q, want waiting", p.ServiceType)
		}
		if err := s.StartService(ctx); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Status(ctx); st.Started == private {
			t.Errorf("after start_service: started %v (private node %v)", st.Started, private)
		}
		if private {
			room.Join(sim.ParticipantSpec{Name: "Host", Role: "chair"})
		}
		if got := ev.until("service_update", is[meetings.ServiceUpdated]).(meetings.ServiceUpdated); !got.Started {
			t.Errorf("service_update once started: %+v, want started", got)
		}
		up := ev.until("the early guest's admission", func(e meetings.Event) bool {
			u, ok := e.(meetings.ParticipantUpdated)
			return ok && u.Participant.UUID == early
		}).(meetings.ParticipantUpdated)
		if up.Participant.Waiting() {
			t.Error("the early guest still waits once the meeting started")
		}
	})
	// A room that does not wait (and a node that never says) is started.
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	e.room()
	if st, err := e.open("1061", "1234").Status(context.Background()); err != nil || !st.Started {
		t.Errorf("status of a running meeting: %+v %v", st, err)
	}
}
