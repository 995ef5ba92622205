package matrix

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/dendritetest"
)

const wait = 20 * time.Second

// One Dendrite serves every test of the package; each test makes its own users and rooms.
var (
	hs        *dendritetest.Server
	hsMissing error
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		hsMissing = errors.New("not started while fuzzing")
		return m.Run() // fuzz targets need no homeserver, and each fuzz worker runs TestMain
	}
	dir, err := os.MkdirTemp("", "matrix-dendrite-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	hs, err = dendritetest.Launch(ctx, dir)
	cancel()
	switch {
	case errors.Is(err, dendritetest.ErrNotInstalled):
		if dendritetest.Required() {
			fmt.Fprintf(os.Stderr, "FAIL: %v (required: %s=true)\n", err, dendritetest.EnvRequireAll)
			return 1
		}
		fmt.Fprintf(os.Stderr, "SKIP: Matrix integration tests: %v\n", err)
		hsMissing = err
	case err != nil:
		fmt.Fprintln(os.Stderr, "start dendrite:", err)
		return 1
	default:
		defer hs.Stop()
	}
	code := m.Run()
	if hs != nil && hs.Crashes() > 0 {
		fmt.Fprintf(os.Stderr, "note: Dendrite crashed %d time(s) on its own and was restarted\n", hs.Crashes())
	}
	if code != 0 && hs != nil {
		fmt.Fprintf(os.Stderr, "dendrite log (end):\n%s\n", hs.Log())
	}
	return code
}

func needHomeserver(t *testing.T) *dendritetest.Server {
	t.Helper()
	if hs == nil {
		t.Skipf("SKIP: %v", hsMissing)
	}
	return hs
}

var userSeq atomic.Int64

func newUser(t *testing.T, name string) dendritetest.User {
	t.Helper()
	u, err := needHomeserver(t).RegisterUser(context.Background(), fmt.Sprintf("%s%d", name, userSeq.Add(1)), false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// memKV is the SyncStore of the tests.
type memKV struct {
	mu sync.Mutex
	m  map[string]string
}

var errNotFound = errors.New("not found")

func (k *memKV) GetValue(_ context.Context, key string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[key]
	if !ok {
		return "", errNotFound
	}
	return v, nil
}

func (k *memKV) PutValue(_ context.Context, key, value string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]string{}
	}
	k.m[key] = value
	return nil
}

// recorder is the command core of the tests: it records each request and answers with reply.
type recorder struct {
	mu    sync.Mutex
	reqs  []chat.Request
	more  chan struct{}
	reply func(chat.Request) chat.Reply
}

func newRecorder(reply func(chat.Request) chat.Reply) *recorder {
	if reply == nil {
		reply = func(r chat.Request) chat.Reply { return chat.Reply{Text: "ok: " + r.Text} }
	}
	return &recorder{more: make(chan struct{}), reply: reply}
}

func (r *recorder) Handle(_ context.Context, req chat.Request) chat.Reply {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	close(r.more)
	r.more = make(chan struct{})
	r.mu.Unlock()
	return r.reply(req)
}

func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		out = append(out, q.Text)
	}
	return out
}

// waitFor waits for a request with the given text and returns it.
func (r *recorder) waitFor(t *testing.T, text string) chat.Request {
	t.Helper()
	deadline := time.After(20 * time.Second)
	seen := 0
	for {
		r.mu.Lock()
		reqs, more := r.reqs[seen:], r.more
		seen = len(r.reqs)
		r.mu.Unlock()
		for _, q := range reqs {
			if q.Text == text {
				return q
			}
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("the handler never saw %q; it saw %q", text, r.texts())
		}
	}
}

// bot is one adapter under test, running until the test ends or stop is called.
type bot struct {
	*Adapter
	user   dendritetest.User
	rec    *recorder
	kv     *memKV
	dir    string
	cancel context.CancelFunc
	done   chan error
}

type botOptions struct {
	allow      []string
	pickleKey  chat.Secret
	homeserver string // default: the test Dendrite
	reply      func(chat.Request) chat.Reply
	password   bool // log in with the password instead of the access token
	db         *sql.DB
	dialect    string

	recoveryKey     chat.Secret
	requireVerified bool
	stderr          io.Writer // what the operator sees once; default: discarded
	log             io.Writer // also receives the adapter's log from Info up
}

func newBot(t *testing.T, opts botOptions) *bot {
	t.Helper()
	b := &bot{user: newUser(t, "meetbot"), rec: newRecorder(opts.reply), kv: &memKV{}, dir: t.TempDir()}
	b.start(t, opts)
	return b
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (b *bot) start(t *testing.T, opts botOptions) {
	t.Helper()
	srv := needHomeserver(t)
	cfg := Config{
		Homeserver: srv.URL, UserID: b.user.UserID.String(), AccessToken: chat.Secret(b.user.AccessToken),
		PickleKey: opts.pickleKey, Allow: opts.allow, DataDir: b.dir,
		IsNotFound: func(err error) bool { return errors.Is(err, errNotFound) },
		DB:         opts.db, DBDialect: opts.dialect,
		RecoveryKey: opts.recoveryKey, RequireVerified: opts.requireVerified, Stderr: opts.stderr,
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if opts.homeserver != "" {
		cfg.Homeserver = opts.homeserver
	}
	if opts.password {
		cfg.AccessToken, cfg.Password = "", chat.Secret(b.user.Password)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := testLogger(t)
	if opts.log != nil {
		log = slog.New(slog.NewTextHandler(io.MultiWriter(testWriter{t}, opts.log), &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	a, err := New(ctx, cfg, b.rec, b.kv, log)
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	b.Adapter, b.cancel, b.done = a, cancel, make(chan error, 1)
	go func() { b.done <- a.Run(ctx) }()
	t.Cleanup(b.stop)
	// A first start ignores what came before its first sync: wait for it, so the test's next
	// messages come after.
	deadline := time.Now().Add(wait)
	for {
		if v, _ := b.kv.GetValue(ctx, a.key("next_batch")); v != "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the bot never finished its first sync")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop ends Run and closes the adapter; it is idempotent.
func (b *bot) stop() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	if err := <-b.done; err != nil {
		panic(fmt.Sprintf("Run: %v", err))
	}
	b.Close()
	b.cancel = nil
}

// room creates a room as owner with the bot invited, waits until the bot has joined and returns it.
func (b *bot) room(t *testing.T, owner *dendritetest.Human, req mautrix.ReqCreateRoom) id.RoomID {
	t.Helper()
	req.Invite = append(req.Invite, b.user.UserID)
	if req.Preset == "" {
		req.Preset = "private_chat"
	}
	resp, err := owner.CreateRoom(context.Background(), &req)
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	owner.WaitFor(t, 20*time.Second, "the bot join", dendritetest.MembershipOf(resp.RoomID, b.user.UserID, event.MembershipJoin))
	return resp.RoomID
}

func human(t *testing.T, name string) *dendritetest.Human {
	return needHomeserver(t).NewHuman(t, newUser(t, name), dendritetest.HumanOptions{})
}

// join makes h join room (after an invite from inviter).
func join(t *testing.T, inviter, h *dendritetest.Human, room id.RoomID) {
	t.Helper()
	ctx := context.Background()
	if _, err := inviter.InviteUser(ctx, room, &mautrix.ReqInviteUser{UserID: h.User.UserID}); err != nil {
		t.Fatalf("invite %s: %v", h.User.UserID, err)
	}
	if _, err := h.JoinRoomByID(ctx, room); err != nil {
		t.Fatalf("join %s: %v", h.User.UserID, err)
	}
}

func notice(e *event.Event) *event.MessageEventContent {
	return e.Content.Parsed.(*event.MessageEventContent)
}

// replyTo matches the bot's m.notice that replies to the event cmd.
func replyTo(room id.RoomID, bot id.UserID, cmd id.EventID) func(*event.Event) bool {
	isNotice := dendritetest.NoticeIn(room, bot)
	return func(e *event.Event) bool {
		if !isNotice(e) {
			return false
		}
		rel := notice(e).RelatesTo
		return rel != nil && rel.InReplyTo != nil && rel.InReplyTo.EventID == cmd
	}
}

// syncBuffer is a bytes.Buffer safe for the adapter's goroutines and the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
