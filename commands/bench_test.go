package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
)

// bareMute opens a session with plain HTTP and returns a function that sends one mute request to
// the simulator: the floor a command cannot go below.
func bareMute(tb testing.TB, f *fixture, uuid string) func() {
	tb.Helper()
	base := f.srv.URL + "/api/services/" + pubRoom
	req, _ := http.NewRequest(http.MethodPost, base+"/new_session", bytes.NewReader([]byte(`{"display_name":"bench","hideme":"yes"}`)))
	req.Header.Set("pin", hostPIN)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	var out struct {
		Result struct {
			Token string `json:"token"`
		} `json:"result"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || out.Result.Token == "" {
		tb.Fatalf("new_session: %v %+v", err, out)
	}
	client := f.srv.Client()
	url := base + "/participants/" + uuid + "/mute"
	return func() {
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		req.Header.Set("token", out.Result.Token)
		resp, err := client.Do(req)
		if err != nil {
			tb.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			tb.Fatalf("mute: %s", resp.Status)
		}
	}
}

// BenchmarkBareRoundTrip is one mute request over loopback HTTP to the simulator, nothing else.
func BenchmarkBareRoundTrip(b *testing.B) {
	f := newFixture(b)
	mute := bareMute(b, f, f.people["Bob Smith"])
	for b.Loop() {
		mute()
	}
}

// BenchmarkHandleMute is `mute "Bob Smith"` from text to the platform call: tokenizing, the
// registry, rights, the link from SQLite, the name from the in-memory roster, the mute request
// and the audit entry. Each iteration also times one bare round trip right after, so both see the
// same load on the machine (ns/op is the sum of the two); it reports the handling time, the bare
// time and their ratio (×bare).
func BenchmarkHandleMute(b *testing.B) {
	f := newFixture(b)
	f.link(b, pubRoom+" "+hostPIN)
	req := chat.Request{Channel: f.ch, User: f.user, Rights: chat.Host, Text: `mute "Bob Smith"`}
	ctx := context.Background()
	f.do(chat.Host, req.Text) // warm the session and the roster
	mute := bareMute(b, f, f.people["Bob Smith"])
	mute()
	f.sim.ResetRequests()
	var handle, bare time.Duration
	for b.Loop() {
		t0 := time.Now()
		if rep := f.router.Handle(ctx, req); rep.Failed {
			b.Fatalf("mute: %+v", rep)
		}
		t1 := time.Now()
		mute()
		bare += time.Since(t1)
		handle += t1.Sub(t0)
	}
	b.StopTimer()
	for _, r := range f.sim.Requests() {
		if r.Op == "participants" {
			b.Fatal("a command asked the platform for the participants: the roster must come from memory")
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(handle.Nanoseconds())/n, "handle-ns/op")
	b.ReportMetric(float64(bare.Nanoseconds())/n, "bare-ns/op")
	b.ReportMetric(float64(handle)/float64(bare), "×bare")
}
