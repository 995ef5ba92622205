package matrix

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestZerologLinesBecomeSlogRecords(t *testing.T) {
	var buf bytes.Buffer
	log := zerologFor(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	log.Warn().Str("room", "!r:x").Msg("something odd")
	log.Error().Msg("Request failed")
	log.Warn().Msg("Request canceled")
	log.Debug().Msg("too detailed")
	out := buf.String()
	for _, want := range []string{`level=WARN msg="something odd" room=!r:x`, `level=WARN msg="Request failed"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	for _, unwanted := range []string{"Request canceled", "too detailed"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("log %q has %q, which is below the level", out, unwanted)
		}
	}
}
