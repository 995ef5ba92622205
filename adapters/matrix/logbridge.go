package matrix

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"

	"github.com/rs/zerolog"
)

// zerologFor returns a zerolog logger (what mautrix logs with) that writes into log.
func zerologFor(log *slog.Logger) zerolog.Logger {
	level := zerolog.InfoLevel
	if log.Enabled(context.Background(), slog.LevelDebug) {
		level = zerolog.DebugLevel
	}
	return zerolog.New(slogWriter{log}).Level(level).With().Timestamp().Logger()
}

// slogWriter turns zerolog's JSON lines into slog records.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		w.log.Info(string(p))
		return len(p), nil
	}
	level := slog.LevelInfo
	switch m["level"] {
	case "trace", "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error", "fatal", "panic":
		level = slog.LevelError
	}
	msg, _ := m["message"].(string)
	switch msg {
	case "Request canceled":
		level = slog.LevelDebug // every shutdown cancels the long-poll sync
	case "Request failed":
		level = min(level, slog.LevelWarn) // the adapter retries; it logs an error when it gives up
	}
	delete(m, "level")
	delete(m, "message")
	delete(m, "time")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, m[k]))
	}
	w.log.LogAttrs(context.Background(), level, msg, attrs...)
	return len(p), nil
}
