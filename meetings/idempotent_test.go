package meetings_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

// Issue 12 item 4: a proxy answers 502 after the node acted. A command that is not safe to repeat
// is sent once, and its error says the outcome is unknown (with the 502 still readable); one
// that is safe to repeat is retried and succeeds.
func TestBadGatewayAfterTheNodeActed(t *testing.T) {
	e := newFaultEnv(t, sim.Options{}, meetings.ClientOptions{Retries: 3})
	room := e.room()
	e.sim.AddRoom(sim.RoomConfig{Number: "2000", Alias: "other@myvmr.cn", HostPIN: "9"})
	s := e.open("1061", "1234")
	ctx := context.Background()
	bob := room.Join(sim.ParticipantSpec{Name: "Bob"})
	carol := room.Join(sim.ParticipantSpec{Name: "Carol"})
	call, err := s.AddCall(ctx, bob, meetings.CallRequest{CallType: "WEBRTC", SDP: "v=0\r\n"})
	if err != nil {
		t.Fatal(err)
	}

	once := []struct {
		op    string // as the simulator records it
		do    func() error
		check func(t *testing.T)
	}{
		{"dial", func() error {
			_, err := s.Dial(ctx, meetings.DialRequest{Destination: "dora@example.com", Protocol: "sip", Role: "guest", RemoteDisplayName: "Dora"})
			return err
		}, func(t *testing.T) {
			n := 0
			for _, p := range room.Participants() {
				if p.Name == "Dora" {
					n++
				}
			}
			if n != 1 {
				t.Errorf("Dora dialled %d times, want once", n)
			}
		}},
		{"message", func() error { return s.SendMessage(ctx, "hello") }, func(t *testing.T) {
			if msgs := room.State().Messages; len(msgs) != 1 {
				t.Errorf("%d messages said, want 1: %+v", len(msgs), msgs)
			}
		}},
		{"participant/dtmf", func() error { return s.SendDTMF(ctx, bob, "12#") }, func(t *testing.T) {
			if p, _ := room.Participant(bob); p.DTMF != "12#" {
				t.Errorf("digits received %q, want 12# once", p.DTMF)
			}
		}},
		{"participant/calls", func() error {
			_, err := s.AddCall(ctx, bob, meetings.CallRequest{CallType: "RTMP", Streaming: true})
			return err
		}, func(t *testing.T) {
			if p, _ := room.Participant(bob); len(p.Calls) != 2 {
				t.Errorf("calls %v, want the first and one more", p.Calls)
			}
		}},
		{"call/ack", func() error { return s.AckCall(ctx, bob, call.CallUUID) }, nil},
		{"participant/transfer", func() error {
			return s.Transfer(ctx, carol, meetings.TransferRequest{Room: "other@myvmr.cn", PIN: "9", Role: "guest"})
		}, func(t *testing.T) {
			if _, ok := e.sim.Room("2000").Participant(carol); !ok {
				t.Error("Carol was not transferred")
			}
		}},
	}
	for _, tc := range once {
		t.Run(tc.op, func(t *testing.T) {
			e.fault.BadGatewayAfter(tc.op, -1)
			defer e.fault.BadGatewayAfter(tc.op, 0)
			before := e.count(tc.op)
			err := tc.do()
			if !errors.Is(err, meetings.ErrOutcomeUnknown) {
				t.Errorf("%s after a 502 = %v, want ErrOutcomeUnknown", tc.op, err)
			}
			var pe *meetings.Error
			if !errors.As(err, &pe) || pe.Status != http.StatusBadGateway {
				t.Errorf("%s: error %v does not carry the 502", tc.op, err)
			}
			if n := e.count(tc.op) - before; n != 1 {
				t.Errorf("%s sent %d times, want once", tc.op, n)
			}
			if tc.check != nil {
				tc.check(t)
			}
		})
	}

	safe := []struct {
		op    string
		do    func() error
		check func() bool
	}{
		{"participant/mute", func() error { return s.Mute(ctx, bob) }, func() bool { p, _ := room.Participant(bob); return p.Muted }},
		{"lock", func() error { return s.Lock(ctx) }, func() bool { return room.State().Locked }},
		{"muteguests", func() error { return s.MuteGuests(ctx) }, func() bool { return room.State().GuestsMuted }},
		{"call/disconnect", func() error { return s.DisconnectCall(ctx, bob, call.CallUUID) }, func() bool { return true }},
	}
	for _, tc := range safe {
		t.Run(tc.op, func(t *testing.T) {
			e.fault.BadGatewayAfter(tc.op, 1)
			err := tc.do()
			if tc.op == "call/disconnect" && errors.Is(err, meetings.ErrNotFound) {
				err = nil // the first attempt disconnected it: the repeat finds it gone, and that is fine
			}
			if err != nil {
				t.Errorf("%s after one 502 = %v, want the retry to succeed", tc.op, err)
			}
			if n := e.count(tc.op); n != 2 {
				t.Errorf("%s sent %d times, want 2 (one retry)", tc.op, n)
			}
			if !tc.check() {
				t.Errorf("%s not carried out", tc.op)
			}
		})
	}
}

// A command that is not safe to repeat is still retried when the answer proves the platform did
// not act: 429 (rate limited) is such an answer.
func TestNotIdempotentRetriedOnRateLimit(t *testing.T) {
	e := newEnv(t, sim.Options{}, meetings.ClientOptions{Retries: 2})
	room := e.room()
	s := e.open("1061", "1234")
	e.sim.FailNext("message", http.StatusTooManyRequests, 1)
	if err := s.SendMessage(context.Background(), "hi"); err != nil {
		t.Fatalf("message after one 429: %v", err)
	}
	if n := len(room.State().Messages); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}
