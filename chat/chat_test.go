package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestChannelRefRoundTrips(t *testing.T) {
	for _, c := range []ChannelRef{
		{Platform: "slack", Workspace: "T123", Channel: "C456"},
		{Platform: "matrix", Channel: "!room:example.org"},
		{Platform: "console", Channel: "console"},
	} {
		got, err := ParseChannelRef(c.String())
		if err != nil || got != c {
			t.Errorf("ParseChannelRef(%q) = %+v, %v; want %+v", c.String(), got, err, c)
		}
	}
	for _, bad := range []string{"", "slack", "slack:", "slack:T1", "slack:/C1", ":x"} {
		if _, err := ParseChannelRef(bad); err == nil {
			t.Errorf("ParseChannelRef(%q) succeeded; want an error", bad)
		}
	}
}

func FuzzParseChannelRef(f *testing.F) {
	f.Add("slack:T1/C2")
	f.Add("matrix:!a:b")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChannelRef(s)
		if err != nil {
			return
		}
		again, err := ParseChannelRef(c.String())
		if err != nil || again != c {
			t.Errorf("%q parsed to %+v, which does not round-trip (%+v, %v)", s, c, again, err)
		}
	})
}

// A PIN in a struct must not leak through fmt, slog's text handler or slog's JSON handler.
func TestSecretNeverPrints(t *testing.T) {
	type link struct {
		Room string
		PIN  Secret
	}
	l := link{Room: "1061", PIN: "4321"}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%v %+v %#v %s\n", l, l, l, l.PIN)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "pin", l.PIN, "link", l)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "pin", l.PIN, "link", l)
	b, _ := json.Marshal(l)
	buf.Write(b)
	if strings.Contains(buf.String(), "4321") {
		t.Errorf("the secret was printed:\n%s", buf.String())
	}
	if l.PIN.Reveal() != "4321" {
		t.Errorf("Reveal = %q", l.PIN.Reveal())
	}
}

type recordingPoster struct{ got []ChannelRef }

func (p *recordingPoster) Post(ctx context.Context, ch ChannelRef, n Notification) error {
	p.got = append(p.got, ch)
	return nil
}

func TestPosterMuxRoutesByPlatform(t *testing.T) {
	slack, matrix := &recordingPoster{}, &recordingPoster{}
	mux := PosterMux{"slack": slack, "matrix": matrix}
	ctx := context.Background()
	s := ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C1"}
	m := ChannelRef{Platform: "matrix", Channel: "!r:x"}
	if err := mux.Post(ctx, s, Notification{}); err != nil {
		t.Fatal(err)
	}
	if err := mux.Post(ctx, m, Notification{}); err != nil {
		t.Fatal(err)
	}
	if len(slack.got) != 1 || slack.got[0] != s || len(matrix.got) != 1 || matrix.got[0] != m {
		t.Errorf("slack got %v, matrix got %v", slack.got, matrix.got)
	}
	err := mux.Post(ctx, ChannelRef{Platform: "irc", Channel: "#x"}, Notification{})
	if !errors.Is(err, ErrChannelGone) {
		t.Errorf("post to a platform with no adapter = %v, want ErrChannelGone so the relay stops trying", err)
	}
}
