package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/pgtest"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/postgres"
	"github.com/meetbot/meetbot/store/sqlite"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// harness is the platform simulator on loopback, a client of it, a store and a recording Poster
// shared by every Supervisor of the test (the chat service).
type harness struct {
	t      testing.TB
	sim    *sim.Server
	srv    *httptest.Server
	client *meetings.Client
	store  store.Store
	rec    *recorder
	obs    *countingObserver

	markSeq atomic.Int64
	markMu  sync.Mutex
	marks   map[string]chan struct{}
}

func newHarness(t *testing.T, st store.Store) *harness { return newHarnessTB(t, st) }

// newBenchHarness is newHarness for benchmarks, with an SQLite store.
func newBenchHarness(b *testing.B) *harness { return newHarnessTB(b, nil) }

func newHarnessTB(t testing.TB, st store.Store) *harness {
	t.Helper()
	s := sim.New(sim.Options{})
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		srv.Close()
	})
	c, err := meetings.NewClient(srv.URL, meetings.ClientOptions{
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, RetryBackoff: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st == nil {
		st = openSQLite(t)
	}
	return &harness{t: t, sim: s, srv: srv, client: c, store: st, rec: newRecorder(), obs: &countingObserver{}, marks: map[string]chan struct{}{}}
}

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Memory, testKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// openPostgres opens a PostgreSQL store in a schema of the test's own, dropped when it ends; it
// returns an opener so several replicas get their own connection pools.
func openPostgres(t *testing.T) func() store.Store {
	t.Helper()
	schema := pgtest.Schema(t, "relay")
	url := pgtest.ServerURL(t)
	ctx := context.Background()
	return func() store.Store {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		db, err := postgres.OpenConfig(ctx, cfg, testKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
}

// node is the simulator's host:port, as checkJoin gives it.
func (h *harness) node() string { return strings.TrimPrefix(h.srv.URL, "http://") }

// room adds room number with host PIN 1234 and guest PIN 5678.
func (h *harness) room(number string) *sim.Room {
	return h.sim.AddRoom(sim.RoomConfig{Number: number, Name: "Room " + number, HostPIN: "1234", GuestPIN: "5678"})
}

// link stores a link of channel name to room number, as the link command would.
func (h *harness) link(name, number string) store.Link {
	h.t.Helper()
	l := store.Link{
		Channel: chat.ChannelRef{Platform: "console", Channel: name},
		Meeting: store.MeetingRef{APIServer: h.srv.URL, Room: number},
		Node:    h.node(), Name: "Room " + number, PIN: "1234", Role: "HOST", Cloud: "public", CreatedBy: "tester",
	}
	if err := h.store.PutLink(context.Background(), l); err != nil {
		h.t.Fatal(err)
	}
	return l
}

// open opens the session the link command would hand to Follow.
func (h *harness) open(l store.Link) *meetings.Session {
	h.t.Helper()
	s, err := h.client.Open(context.Background(), meetings.Room{Node: l.Node, Alias: l.Meeting.Room},
		meetings.SessionOptions{DisplayName: "meetbot", PIN: l.PIN.Reveal(), Hidden: true})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// running is a Supervisor running in the background.
type running struct {
	*Supervisor
	cancel context.CancelFunc
	done   chan error
}

// supervisor starts a Supervisor with short timings on st (the harness's store when nil).
func (h *harness) supervisor(id string, st store.Store, tune func(*Supervisor)) *running {
	h.t.Helper()
	if st == nil {
		st = h.store
	}
	s := &Supervisor{
		Store: st, Client: h.client, Poster: h.rec, ReplicaID: id, BotName: "meetbot",
		Logger: discard(), Observer: h.obs,
		LeaseTTL: time.Second, Resync: 100 * time.Millisecond, Pace: 20 * time.Millisecond,
		SaveInterval: 20 * time.Millisecond,
	}
	if tt, ok := h.t.(*testing.T); ok && testing.Verbose() && os.Getenv("RELAY_LOG") != "" {
		s.Logger = testLogger(tt, id)
	}
	s.handled = h.sawEvent
	if tune != nil {
		tune(s)
	}
	s.init()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Supervisor: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	h.t.Cleanup(func() { r.stop() })
	return r
}

// supervisorB starts a Supervisor for a benchmark: Pace a microsecond, so nothing waits.
func (h *harness) supervisorB(b *testing.B) *running {
	return h.supervisor("bench", nil, func(s *Supervisor) { s.Pace = time.Microsecond })
}

// stop shuts r down gracefully and waits for Run to return.
func (r *running) stop() {
	r.cancel()
	<-r.done
	r.done <- nil // later stops return at once
}

// kill stops r as a crash would: no leases released, no sessions ended, nothing more posted.
func (r *running) kill() {
	r.abandon.Store(true)
	r.stop()
}

// listens reports whether r listens to l's meeting and its roster has its baseline.
func (r *running) listens(l store.Link) bool {
	r.mu.Lock()
	li := r.lis[l.Meeting.Key()]
	r.mu.Unlock()
	if li == nil {
		return false
	}
	if _, ok := li.participants(); !ok {
		return false
	}
	// A linked listener has its baseline at once; what happens in the meeting reaches it only
	// once its event stream is open.
	li.mu.Lock()
	defer li.mu.Unlock()
	return li.connects > 0
}

// savedRoster returns the names in the saved roster of l's meeting.
func (h *harness) savedRoster(l store.Link) []string {
	es, err := h.store.LoadRoster(context.Background(), l.Meeting.Key())
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
	}
	return names
}

// lines returns every line posted to ch so far.
func (h *harness) lines(ch chat.ChannelRef) []string {
	var ls []string
	for _, t := range h.rec.texts(ch) {
		ls = append(ls, strings.Split(t, "\n")...)
	}
	return ls
}

// countingObserver counts the Observer hooks.
type countingObserver struct {
	posted, failed, reconnects, dropped atomic.Int64
	mu                                  sync.Mutex
	latencies                           []time.Duration
}

func (o *countingObserver) NotificationPosted(_ chat.ChannelRef, events int, latency time.Duration) {
	o.posted.Add(1)
	o.mu.Lock()
	o.latencies = append(o.latencies, latency)
	o.mu.Unlock()
}
func (o *countingObserver) PostFailed(chat.ChannelRef, error) { o.failed.Add(1) }
func (o *countingObserver) NotificationDropped(_ chat.ChannelRef, events int, _ error) {
	o.dropped.Add(int64(events))
}
func (o *countingObserver) StreamReconnected(string) { o.reconnects.Add(1) }
func (o *countingObserver) Listening(int)            {}

func join1(r *sim.Room, name string) string {
	return r.Join(sim.ParticipantSpec{Name: name, Role: "guest"})
}

func sameLines(got, want []string) bool {
	return fmt.Sprint(got) == fmt.Sprint(want)
}

// tWriter sends log lines to the test's log (RELAY_LOG=1 go test -v).
type tWriter struct {
	t      *testing.T
	prefix string
}

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t *testing.T, id string) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t, id + ": "}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// markEvent is the event flush sends through the simulator: no listener posts anything for it.
const markEvent = "relay_test_mark"

// sawEvent is every harness Supervisor's handled hook: it reports flush marks.
func (h *harness) sawEvent(_ string, ev meetings.Event) {
	u, ok := ev.(meetings.Unknown)
	if !ok || u.Name != markEvent {
		return
	}
	var m struct{ ID string }
	if json.Unmarshal(u.Data, &m) != nil {
		return
	}
	h.markMu.Lock()
	ch := h.marks[m.ID]
	delete(h.marks, m.ID)
	h.markMu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// flush returns once r's listener of l's meeting has handled every event room sent before the
// call and every channel has posted (or left out) every notice they caused. Nothing caused
// before the call can arrive after it: it is the explicit signal tests use instead of waiting a
// while to see that nothing more arrives.
func (h *harness) flush(r *running, room *sim.Room, l store.Link) {
	h.t.Helper()
	h.flushHandled(r, room)
	li := r.listener(l)
	if li == nil {
		h.t.Fatalf("flush: %s does not listen to %s", r.ReplicaID, l.Meeting.Room)
	}
	eventually(h.t, "every channel posted what it had", func() bool { return li.posted() })
}

// flushHandled returns once r's listener of room has handled every event room sent before.
func (h *harness) flushHandled(r *running, room *sim.Room) {
	h.t.Helper()
	id := fmt.Sprint(h.markSeq.Add(1))
	seen := make(chan struct{})
	h.markMu.Lock()
	h.marks[id] = seen
	h.markMu.Unlock()
	// A mark sent while the meeting changes hands (between one listener's stream and the
	// next's) reaches no one: send it again until it is seen.
	deadline := time.After(20 * time.Second)
	for {
		room.Emit(markEvent, map[string]string{"id": id})
		select {
		case <-seen:
			return
		case <-time.After(500 * time.Millisecond):
		case <-deadline:
			h.t.Fatalf("flush: %s never handled the mark", r.ReplicaID)
		}
	}
}

// flushAny is flush for whichever of reps listens to l's meeting.
func (h *harness) flushAny(reps []*running, room *sim.Room, l store.Link) {
	h.t.Helper()
	var li *Listener
	eventually(h.t, "a replica listens to "+l.Meeting.Room, func() bool {
		for _, r := range reps {
			if li = r.listener(l); li != nil {
				h.flushHandled(r, room)
				return r.listener(l) == li // not handed over meanwhile
			}
		}
		return false
	})
	eventually(h.t, "every channel posted what it had", func() bool { return li.posted() })
}

// listener returns r's listener of l's meeting, or nil.
func (r *running) listener(l store.Link) *Listener {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lis[l.Meeting.Key()]
}

// posted reports whether every outbox of l has posted (or left out, or dropped) every notice l
// has handed out so far.
func (l *Listener) posted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.outboxes {
		if o.acked.Load() < l.seq {
			return false
		}
	}
	return true
}

// stopped waits until li and its outboxes have stopped: nothing can post for it any more.
func (h *harness) stopped(li *Listener) {
	h.t.Helper()
	wait := func(ch <-chan struct{}) {
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			h.t.Fatal("listener did not stop")
		}
	}
	wait(li.done)
	li.mu.Lock()
	obs := make([]*outbox, 0, len(li.outboxes))
	for _, o := range li.outboxes {
		obs = append(obs, o)
	}
	li.mu.Unlock()
	for _, o := range obs {
		wait(o.done)
	}
}

// rounds waits until r has completed n more resyncs.
func (r *running) awaitRounds(t testing.TB, n int64) {
	t.Helper()
	target := r.rounds.Load() + n
	eventually(t, "resyncs", func() bool { return r.rounds.Load() >= target })
}
