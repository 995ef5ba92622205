package meetings_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

func TestConferenceCommands(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	room := e.room()
	s := e.open("1061", "1234")
	ctx := context.Background()
	alice := room.Join(sim.ParticipantSpec{Name: "Alice", Role: "chair"})
	room.Join(sim.ParticipantSpec{Name: "Bob"})

	t.Run("service_status", func(t *testing.T) {
		room.SetLocked(true)
		st, err := s.Status(ctx)
		if err != nil || !st.Locked || st.GuestsMuted {
			t.Fatalf("Status = %+v, %v; want locked, guests not muted", st, err)
		}
		room.SetLocked(false)
	})
	t.Run("lock", func(t *testing.T) {
		if err := s.Lock(ctx); err != nil || !room.State().Locked {
			t.Fatalf("Lock = %v; room locked %v", err, room.State().Locked)
		}
	})
	t.Run("unlock", func(t *testing.T) {
		if err := s.Unlock(ctx); err != nil || room.State().Locked {
			t.Fatalf("Unlock = %v; room locked %v", err, room.State().Locked)
		}
	})
	t.Run("start_service", func(t *testing.T) {
		w := room.Join(sim.ParticipantSpec{Name: "Waiter", Waiting: true})
		if err := s.StartService(ctx); err != nil {
			t.Fatal(err)
		}
		if p, _ := room.Participant(w); p.ServiceType != "conference" || !room.State().Started {
			t.Errorf("after start_service: waiter %s, started %v", p.ServiceType, room.State().Started)
		}
		room.Leave(w)
	})
	t.Run("muteguests", func(t *testing.T) {
		if err := s.MuteGuests(ctx); err != nil || !room.State().GuestsMuted {
			t.Fatalf("MuteGuests = %v; guests muted %v", err, room.State().GuestsMuted)
		}
	})
	t.Run("unmuteguests", func(t *testing.T) {
		if err := s.UnmuteGuests(ctx); err != nil || room.State().GuestsMuted {
			t.Fatalf("UnmuteGuests = %v; guests muted %v", err, room.State().GuestsMuted)
		}
	})
	t.Run("message", func(t *testing.T) {
		if err := s.SendMessage(ctx, "Hello 世界"); err != nil {
			t.Fatal(err)
		}
		msgs := room.State().Messages
		if len(msgs) != 1 || msgs[0].Payload != "Hello 世界" || msgs[0].Type != "text/plain" || msgs[0].Origin != "meetbot" {
			t.Errorf("messages = %+v", msgs)
		}
	})
	t.Run("participants", func(t *testing.T) {
		ps, err := s.Participants(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range ps {
			names = append(names, p.DisplayName)
		}
		if !slices.Equal(names, []string{"Alice", "Bob"}) {
			t.Fatalf("participants = %v, want Alice, Bob (the hidden session not listed)", names)
		}
		if !ps[0].IsHost() || ps[1].IsHost() || ps[0].UUID != alice || !ps[0].IsVideoCall || !ps[0].RxPresentationAllowed {
			t.Errorf("participants = %+v", ps)
		}
	})
	t.Run("override_layout", func(t *testing.T) {
		err := s.OverrideLayout(ctx,
			meetings.LayoutOverride{Audience: "hosts", VADBackfill: true, Layout: "2:21"},
			meetings.LayoutOverride{Audience: "", Actors: []string{alice}, Layout: "1:7"})
		if err != nil {
			t.Fatal(err)
		}
		want := []sim.Layout{
			{Audience: "hosts", Actors: []string{}, VADBackfill: true, Layout: "2:21", PlusN: "auto", ActorsOverlayText: "auto"},
			{Audience: "", Actors: []string{alice}, Layout: "1:7", PlusN: "off", ActorsOverlayText: "auto"},
		}
		if diff := cmp.Diff(want, room.State().Layouts); diff != "" {
			t.Errorf("layouts (-want +got):\n%s", diff)
		}
		err = s.OverrideLayout(ctx, meetings.LayoutOverride{Layout: "9:9"})
		if !errors.Is(err, meetings.ErrBadRequest) {
			t.Errorf("illegal layout: %v, want ErrBadRequest", err)
		}
	})
	t.Run("dial", func(t *testing.T) {
		uuids, err := s.Dial(ctx, meetings.DialRequest{Destination: "carol@example.com", Protocol: "sip", Role: "guest", RemoteDisplayName: "Carol"})
		if err != nil || len(uuids) != 1 {
			t.Fatalf("Dial = %v, %v", uuids, err)
		}
		p, ok := room.Participant(uuids[0])
		if !ok || p.Name != "Carol" || p.ServiceType != "connecting" || p.CallDirection != "out" {
			t.Errorf("dialled participant = %+v", p)
		}
		_, err = s.Dial(ctx, meetings.DialRequest{Destination: "x", Protocol: "carrier-pigeon", Role: "guest"})
		if !errors.Is(err, meetings.ErrBadRequest) {
			t.Errorf("bad protocol: %v, want ErrBadRequest", err)
		}
	})
	t.Run("disconnect", func(t *testing.T) {
		if err := s.DisconnectAll(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(room.Participants()); n != 0 {
			t.Errorf("%d participants left after disconnect", n)
		}
	})
}

func TestParticipantCommands(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	room := e.room()
	e.sim.AddRoom(sim.RoomConfig{Number: "2000", Alias: "other@myvmr.cn", HostPIN: "9"})
	s := e.open("1061", "1234")
	ctx := context.Background()
	bob := room.Join(sim.ParticipantSpec{Name: "Bob"})
	get := func() sim.Participant { p, _ := room.Participant(bob); return p }

	steps := []struct {
		name  string
		do    func() error
		check func(sim.Participant) bool
	}{
		{"mute", func() error { return s.Mute(ctx, bob) }, func(p sim.Participant) bool { return p.Muted }},
		{"unmute", func() error { return s.Unmute(ctx, bob) }, func(p sim.Participant) bool { return !p.Muted }},
		{"hard_vmute", func() error { return s.VideoMute(ctx, bob) }, func(p sim.Participant) bool { return p.VideoMuted }},
		{"hard_uvmute", func() error { return s.VideoUnmute(ctx, bob) }, func(p sim.Participant) bool { return !p.VideoMuted }},
		{"cancel_delay", func() error { return s.CancelDelay(ctx, bob) }, func(p sim.Participant) bool { return p.Delayed }},
		{"resume_delay", func() error { return s.ResumeDelay(ctx, bob) }, func(p sim.Participant) bool { return !p.Delayed }},
		{"denyrxpresentation", func() error { return s.DenyPresentation(ctx, bob) }, func(p sim.Participant) bool { return !p.RxPresentationAllowed }},
		{"allowrxpresentation", func() error { return s.AllowPresentation(ctx, bob) }, func(p sim.Participant) bool { return p.RxPresentationAllowed }},
		{"spotlighton", func() error { return s.SpotlightOn(ctx, bob) }, func(p sim.Participant) bool { return p.Spotlight > 0 }},
		{"spotlightoff", func() error { return s.SpotlightOff(ctx, bob) }, func(p sim.Participant) bool { return p.Spotlight == 0 }},
		{"dtmf", func() error { return s.SendDTMF(ctx, bob, "12#") }, func(p sim.Participant) bool { return p.DTMF == "12#" }},
		{"role", func() error { return s.SetRole(ctx, bob, "chair") }, func(p sim.Participant) bool { return p.Role == "chair" }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			if p := get(); !st.check(p) {
				t.Errorf("after %s: %+v", st.name, p)
			}
		})
	}
	t.Run("unlock", func(t *testing.T) {
		w := room.Join(sim.ParticipantSpec{Name: "Waiter", Waiting: true})
		if err := s.Admit(ctx, w); err != nil {
			t.Fatal(err)
		}
		if p, _ := room.Participant(w); p.ServiceType != "conference" {
			t.Errorf("admitted participant is %s", p.ServiceType)
		}
		// Admitting someone who is not waiting: the platform answers result false.
		err := s.Admit(ctx, w)
		var pe *meetings.Error
		if !errors.As(err, &pe) || pe.Kind != meetings.ErrRefused || pe.Status != 200 {
			t.Errorf("admit again = %#v, want ErrRefused", err)
		}
	})
	t.Run("calls", func(t *testing.T) {
		r, err := s.AddCall(ctx, bob, meetings.CallRequest{CallType: "WEBRTC", SDP: "v=0\r\n"})
		if err != nil || r.CallUUID == "" || r.SDP == "" {
			t.Fatalf("WebRTC AddCall = %+v, %v", r, err)
		}
		r, err = s.AddCall(ctx, bob, meetings.CallRequest{CallType: "RTMP", Present: "send", Streaming: true})
		if err != nil || r.CallUUID == "" || r.URL == "" || r.SecureURL == "" {
			t.Fatalf("RTMP AddCall = %+v, %v", r, err)
		}
		if got := get().Calls; len(got) != 2 {
			t.Errorf("calls = %v", got)
		}
		if err := s.AckCall(ctx, bob, r.CallUUID); err != nil {
			t.Errorf("ack: %v", err)
		}
		if err := s.DisconnectCall(ctx, bob, r.CallUUID); err != nil {
			t.Errorf("call disconnect: %v", err)
		}
		if got := get().Calls; len(got) != 1 {
			t.Errorf("calls after disconnecting one = %v", got)
		}
		if err := s.AckCall(ctx, bob, "no-such-call"); !errors.Is(err, meetings.ErrNotFound) {
			t.Errorf("ack of an unknown call = %v, want ErrNotFound", err)
		}
	})
	t.Run("transfer", func(t *testing.T) {
		err := s.Transfer(ctx, bob, meetings.TransferRequest{Room: "other@myvmr.cn", PIN: "0", Role: "guest"})
		if !errors.Is(err, meetings.ErrRefused) {
			t.Errorf("transfer with a wrong PIN = %v, want ErrRefused", err)
		}
		if err := s.Transfer(ctx, bob, meetings.TransferRequest{Room: "other@myvmr.cn", PIN: "9", Role: "guest"}); err != nil {
			t.Fatal(err)
		}
		if _, ok := e.sim.Room("2000").Participant(bob); !ok {
			t.Error("Bob is not in the other room")
		}
		if _, ok := room.Participant(bob); ok {
			t.Error("Bob is still here")
		}
	})
	t.Run("disconnect", func(t *testing.T) {
		carol := room.Join(sim.ParticipantSpec{Name: "Carol"})
		if err := s.Kick(ctx, carol); err != nil {
			t.Fatal(err)
		}
		if _, ok := room.Participant(carol); ok {
			t.Error("Carol is still here")
		}
		// Clarification 6: an unknown participant uuid is 404.
		err := s.Kick(ctx, carol)
		var pe *meetings.Error
		if !errors.As(err, &pe) || pe.Kind != meetings.ErrNotFound || pe.Reason == "" {
			t.Errorf("kick a gone participant = %#v, want ErrNotFound", err)
		}
	})
	t.Run("ErrBadRequest", func(t *testing.T) {
		dave := room.Join(sim.ParticipantSpec{Name: "Dave"})
		err := s.SetRole(ctx, dave, "emperor")
		var pe *meetings.Error
		if !errors.As(err, &pe) || pe.Kind != meetings.ErrBadRequest || pe.Reason != "Illegal value" {
			t.Errorf("illegal role = %#v, want ErrBadRequest \"Illegal value\"", err)
		}
	})
	t.Run("PathEscaped", func(t *testing.T) {
		if err := s.Mute(ctx, "../lock"); !errors.Is(err, meetings.ErrNotFound) {
			t.Errorf("mute of a uuid with a slash = %v, want ErrNotFound", err)
		}
		if room.State().Locked {
			t.Error("a crafted uuid reached another command")
		}
	})
}

// Clarification 6: a guest calling a host-only command is forbidden, with the platform's reason.
func TestGuestForbidden(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	room := e.room()
	g := e.open("1061", "5678")
	bob := room.Join(sim.ParticipantSpec{Name: "Bob"})
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"lock": func() error { return g.Lock(ctx) },
		"mute": func() error { return g.Mute(ctx, bob) },
	} {
		err := call()
		var pe *meetings.Error
		if !errors.As(err, &pe) || !errors.Is(err, meetings.ErrForbidden) || pe.Reason != "Invalid role" || pe.Op != name {
			t.Errorf("guest %s = %#v, want ErrForbidden \"Invalid role\"", name, err)
		}
	}
	if _, err := g.Participants(ctx); err != nil {
		t.Errorf("guest participants: %v", err)
	}
}

func TestPresentationJPEG(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{})
	room := e.room()
	s := e.open("1061", "1234")
	ev := listen(t, s)
	ev.synced()
	bob := room.Join(sim.ParticipantSpec{Name: "Bob"})
	room.Present(bob, true)
	frame := ev.until("presentation_frame", is[meetings.PresentationFrame]).(meetings.PresentationFrame)
	if frame.ID == "" {
		t.Fatal("presentation_frame without id")
	}
	img, err := s.PresentationJPEG(context.Background(), frame.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(img) < 4 || img[0] != 0xFF || img[1] != 0xD8 {
		t.Errorf("presentation.jpeg is not a JPEG: % x", img[:min(4, len(img))])
	}
	// Clarification 3: id and token as query parameters.
	for _, r := range e.sim.Requests() {
		if r.Op == "presentation.jpeg" && !r.TokenValid {
			t.Error("presentation.jpeg without a valid token")
		}
	}
	room.Present(bob, false)
	if _, err := s.PresentationJPEG(context.Background(), frame.ID); !errors.Is(err, meetings.ErrNotFound) {
		t.Errorf("no presentation: %v, want ErrNotFound", err)
	}
}

// The dial body carries every field, in the platform's names, and only those that are set.
func TestDialBody(t *testing.T) {
	var body map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/services/1061/new_session":
			io.WriteString(w, `{"status":"success","result":{"token":"t","expires":"120"}}`)
		case "/api/services/1061/dial":
			b, _ := io.ReadAll(r.Body)
			body = nil
			json.Unmarshal(b, &body)
			io.WriteString(w, `{"status":"success","result":["u1","u2"]}`)
		default:
			io.WriteString(w, `{"status":"success","result":true}`)
		}
	}))
	defer srv.Close()
	c, _ := meetings.NewClient(srv.URL, meetings.ClientOptions{})
	s, err := c.Open(context.Background(), meetings.Room{Alias: "1061"}, meetings.SessionOptions{DisplayName: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	uuids, err := s.Dial(context.Background(), meetings.DialRequest{
		Destination: "rtmp://x/live", Protocol: "rtmp", Role: "chair", PresentationURL: "rtmp://x/pres",
		Streaming: true, DTMFSequence: "123", SourceDisplayName: "Weekly", Source: "1061", CallType: "video-only",
		KeepConferenceAlive: "keep_conference_alive_never", RemoteDisplayName: "Stream"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(uuids, []string{"u1", "u2"}) {
		t.Errorf("uuids = %v", uuids)
	}
	want := map[string]any{"destination": "rtmp://x/live", "protocol": "rtmp", "role": "chair",
		"presentation_url": "rtmp://x/pres", "streaming": "yes", "dtmf_sequence": "123",
		"source_display_name": "Weekly", "source": "1061", "call_type": "video-only",
		"keep_conference_alive": "keep_conference_alive_never", "remote_display_name": "Stream"}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("dial body (-want +got):\n%s", diff)
	}
	if _, err := s.Dial(context.Background(), meetings.DialRequest{Destination: "a", Protocol: "sip", Role: "guest"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := body["streaming"]; ok || len(body) != 3 {
		t.Errorf("minimal dial body = %v, want destination, protocol, role only", body)
	}
}
