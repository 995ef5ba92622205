package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meetbot/meetbot/meetings/sim"
)

const liveKey = "zx81-secret-stream-key"

// TestConsoleRecordsAndStreams drives recording and live streaming through `bot console`
// against the simulator, as a host would: start, the recorder's follow-ups, a second start
// refused, the recorder dropping, a recorder that never connects, a restart while recording and
// then record stop, a scheduled record start, a live stream with its key, and no key anywhere.
func TestConsoleRecordsAndStreams(t *testing.T) {
	srv, room := newSim(sim.Options{DialAnswerAfter: 50 * time.Millisecond, DialTimeout: 300 * time.Millisecond}, false)
	room.Join(sim.ParticipantSpec{Name: "Alice Zhang", Role: "chair"})
	env := map[string]string{
		"STORE_URL":         "sqlite:" + filepath.Join(t.TempDir(), "bot.db"),
		"MEET_RECORDER_URL": "rtmp://recorder.example.com/live/{alias}-{date}",
		"LOG_LEVEL":         "debug",
	}
	bot := startConsole(t, srv, room, env)
	bot.do("link 1061 4321", `(?i)linked`)

	bot.do("record start", `^started recording Stand-up`)
	bot.expect(`^\* ● Recording: the recorder is connected$`)
	bot.do("status", `● Recording since \d\d:\d\d`)
	bot.do("record start", `Recording is already running`)
	if n := streamingCount(room); n != 1 {
		t.Fatalf("%d streaming participants, want 1", n)
	}
	bot.do("who", `Recording`)

	// The recorder hangs up without a stop.
	room.HangUpStreaming()
	bot.expect(`^\* Recording stopped: the recorder disconnected$`)

	// A recorder that never answers.
	srv.FailStreamingDials(1)
	bot.do("record start", `^started recording`)
	bot.expect(`^\* Recording did not start: the recorder did not connect$`)

	// Recording, then the bot restarts; the new process stops it.
	bot.do("record start", `^started recording`)
	bot.expect(`^\* ● Recording: the recorder is connected$`)
	if code := bot.quit(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	bot = startConsole(t, srv, room, env)
	bot.do("record stop", `^stopped the recording of Stand-up`)
	// Anything said about the stop comes before the next join, which is the signal that no
	// "recorder disconnected" line follows a stop.
	room.Join(sim.ParticipantSpec{Name: "Eve Adams"})
	bot.expect(`^\* Eve Adams joined`)
	for _, line := range bot.seen {
		if strings.Contains(line, "recorder disconnected") {
			t.Errorf("a stop on purpose was reported as a hang-up: %q", line)
		}
	}
	if n := streamingCount(room); n != 0 {
		t.Errorf("%d streaming participants after record stop", n)
	}

	bot.do(`schedule "0 9 * * 1" record start`, `^scheduled #\d+: record start`)

	bot.do("live start rtmp://a.rtmp.youtube.com/live2/"+liveKey, `^started streaming Stand-up .* live to rtmp://a.rtmp.youtube.com/live2/\*\*\*\*`)
	bot.expect(`^\* ● Live stream: the stream is connected$`)
	bot.do("live stop", `^stopped the live stream`)
	bot.do("audit 20", `live start`)
	if code := bot.quit(); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	for where, text := range map[string]string{"console": strings.Join(bot.seen, "\n"), "log": bot.stderr.String()} {
		if strings.Contains(text, liveKey) {
			t.Errorf("the stream key reached the %s", where)
		}
	}
}

func streamingCount(room *sim.Room) int {
	n := 0
	for _, p := range room.Participants() {
		if p.Protocol == "rtmp" {
			n++
		}
	}
	return n
}
