package commands

import (
	"slices"
	"strings"
	"testing"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings/sim"
)

func TestInferDialProtocol(t *testing.T) {
	for _, tc := range []struct {
		in, dest, proto string
		ok              bool
	}{
		{"sip:bob@example.com", "bob@example.com", "sip", true},
		{"SIP:bob@example.com", "bob@example.com", "sip", true},
		{"sips:bob@example.com", "sips:bob@example.com", "sip", true},
		{"h323:10.0.0.5", "10.0.0.5", "h323", true},
		{"rtmp://live.example.com/app/key", "rtmp://live.example.com/app/key", "rtmp", true},
		{"rtmps://live.example.com/app/key", "rtmps://live.example.com/app/key", "rtmp", true},
		{"tel:+15550100", "+15550100", "phone", true},
		{"+86 10 1234-5678", "+86 10 1234-5678", "phone", true},
		{"bob@example.com", "bob@example.com", "", false},
		{"1061", "1061", "", false},
		{"+", "+", "", false},
		{"+bob", "+bob", "", false},
		{"sip:", "sip:", "", false},
	} {
		dest, proto, ok := inferDialProtocol(tc.in)
		if dest != tc.dest || proto != tc.proto || ok != tc.ok {
			t.Errorf("inferDialProtocol(%q) = %q, %q, %v; want %q, %q, %v", tc.in, dest, proto, ok, tc.dest, tc.proto, tc.ok)
		}
	}
}

// TestDialInfersProtocolFromDestination: a destination that names its protocol is dialled over
// it, and a protocol word the user adds wins over the destination's.
func TestDialInfersProtocolFromDestination(t *testing.T) {
	f := newFixture(t)
	f.link(t, pubRoom+" "+hostPIN)
	for _, tc := range []struct {
		text, reply, destination, protocol string
	}{
		{"dial sip:bob@example.com", "dialling bob@example.com over sip", "bob@example.com", "sip"},
		{"dial h323:10.0.0.9", "dialling 10.0.0.9 over h323", "10.0.0.9", "h323"},
		{"dial tel:+15550100", "dialling +15550100 over phone", "+15550100", "phone"},
		{"dial +15550100", "dialling +15550100 over phone", "+15550100", "phone"},
		{"dial sip:bob@example.com mssip", "dialling bob@example.com over mssip", "bob@example.com", "mssip"},
		{"dial bob@example.com", "dialling bob@example.com over auto", "bob@example.com", "auto"},
	} {
		f.sim.ResetRequests()
		rep := f.do(chat.Host, tc.text)
		if rep.Failed || !strings.HasPrefix(rep.Text, tc.reply) {
			t.Errorf("%s: reply %q, want it to start %q", tc.text, rep.Text, tc.reply)
			continue
		}
		reqs := f.sim.Requests()
		i := slices.IndexFunc(reqs, func(r sim.RecordedRequest) bool { return r.Op == "dial" })
		if i < 0 {
			t.Errorf("%s: no dial request in %v", tc.text, f.ops())
			continue
		}
		body := string(reqs[i].Body)
		for _, want := range []string{`"destination":"` + tc.destination + `"`, `"protocol":"` + tc.protocol + `"`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: dial body %s lacks %s", tc.text, body, want)
			}
		}
	}
}
