package commands

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/sqlite"
)

// testMeetings is a small Meetings for tests: one session per linked meeting, and a roster loaded
// from Participants() once and then served from memory (as the relay's listener does), refreshed
// only when a test says the meeting changed.
type testMeetings struct {
	client *meetings.Client

	mu         sync.Mutex
	sessions   map[string]*meetings.Session
	rosters    map[string][]meetings.Participant
	followed   []string
	unfollowed []string
}

func newTestMeetings(client *meetings.Client) *testMeetings {
	return &testMeetings{client: client, sessions: map[string]*meetings.Session{}, rosters: map[string][]meetings.Participant{}}
}

func (m *testMeetings) Session(ctx context.Context, l store.Link) (*meetings.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[l.Meeting.Key()]; ok {
		return s, nil
	}
	s, err := m.client.Open(ctx, meetings.Room{Node: l.Node, Alias: l.Meeting.Room},
		meetings.SessionOptions{DisplayName: "meetbot", PIN: l.PIN.Reveal(), Hidden: true})
	if err != nil {
		return nil, err
	}
	m.sessions[l.Meeting.Key()] = s
	return s, nil
}

func (m *testMeetings) Roster(ctx context.Context, l store.Link) ([]meetings.Participant, error) {
	m.mu.Lock()
	ps, ok := m.rosters[l.Meeting.Key()]
	m.mu.Unlock()
	if ok {
		return ps, nil
	}
	return m.refresh(ctx, l)
}

// refresh reloads the roster of l's meeting from the platform.
func (m *testMeetings) refresh(ctx context.Context, l store.Link) ([]meetings.Participant, error) {
	s, err := m.Session(ctx, l)
	if err != nil {
		return nil, err
	}
	ps, err := s.Participants(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.rosters[l.Meeting.Key()] = ps
	m.mu.Unlock()
	return ps, nil
}

func (m *testMeetings) Follow(ctx context.Context, l store.Link, s *meetings.Session) error {
	m.mu.Lock()
	if old, ok := m.sessions[l.Meeting.Key()]; ok && old != s {
		defer old.Close(ctx)
	}
	m.sessions[l.Meeting.Key()] = s
	m.followed = append(m.followed, l.Meeting.Key())
	m.mu.Unlock()
	_, err := m.refresh(ctx, l)
	return err
}

func (m *testMeetings) Unfollow(ctx context.Context, l store.Link) error {
	m.mu.Lock()
	s := m.sessions[l.Meeting.Key()]
	delete(m.sessions, l.Meeting.Key())
	delete(m.rosters, l.Meeting.Key())
	m.unfollowed = append(m.unfollowed, l.Meeting.Key())
	m.mu.Unlock()
	if s != nil {
		return s.Close(ctx)
	}
	return nil
}

func (m *testMeetings) closeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sessions {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.Close(ctx)
		cancel()
	}
}

// fakeScheduler records what the core asks of the scheduler.
type fakeScheduler struct {
	mu    sync.Mutex
	added []store.Schedule
	err   error
}

func (s *fakeScheduler) Add(ctx context.Context, sc store.Schedule) (store.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return store.Schedule{}, s.err
	}
	sc.ID = int64(len(s.added) + 1)
	s.added = append(s.added, sc)
	return sc, nil
}

func (s *fakeScheduler) Remove(ctx context.Context, ch chat.ChannelRef, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, sc := range s.added {
		if sc.ID == id && sc.Channel == ch {
			s.added = append(s.added[:i], s.added[i+1:]...)
			return nil
		}
	}
	return store.ErrNotFound
}

func (s *fakeScheduler) List(ctx context.Context, ch chat.ChannelRef) ([]store.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Schedule
	for _, sc := range s.added {
		if sc.Channel == ch {
			out = append(out, sc)
		}
	}
	return out, nil
}

// syncBuffer is a log sink tests can read while the router writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fixture is a router wired to the simulator over loopback HTTP and a real in-memory SQLite store,
// with a public room and a private-cloud room, and people in both.
type fixture struct {
	sim     *sim.Server
	srv     *httptest.Server
	client  *meetings.Client
	store   store.Store
	meet    *testMeetings
	sched   *fakeScheduler
	router  *Router
	logs    *syncBuffer
	pub     *sim.Room
	priv    *sim.Room
	ch      chat.ChannelRef
	user    chat.UserRef
	people  map[string]string // display name → uuid in the public room
	private map[string]string // display name → uuid in the private room
}

const (
	pubRoom  = "1061"
	privRoom = "5000"
	hostPIN  = "1234"
	guestPIN = "5678"
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	s := sim.New(sim.Options{DialAnswerAfter: 50 * time.Millisecond, DialTimeout: time.Second})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(s.Close)
	client, err := meetings.NewClient(srv.URL, meetings.ClientOptions{HTTPClient: srv.Client(), Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	st, err := sqlite.Open(context.Background(), sqlite.Memory, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{
		sim: s, srv: srv, client: client, store: st,
		meet:    newTestMeetings(client),
		sched:   &fakeScheduler{},
		logs:    &syncBuffer{},
		ch:      chat.ChannelRef{Platform: "console", Channel: "test"},
		user:    chat.UserRef{ID: "U1", Name: "Olivia"},
		people:  map[string]string{},
		private: map[string]string{},
	}
	t.Cleanup(f.meet.closeAll)
	f.pub = s.AddRoom(sim.RoomConfig{Number: pubRoom, Alias: "team@example.com", Name: "Team Room", HostPIN: hostPIN, GuestPIN: guestPIN})
	f.priv = s.AddRoom(sim.RoomConfig{Number: privRoom, Alias: "corp@private.example", Name: "Corp Room", HostPIN: hostPIN, GuestPIN: guestPIN, Private: true})
	for _, p := range []sim.ParticipantSpec{
		{Name: "Alice Zhang", Role: "chair"},
		{Name: "Bob Smith"},
		{Name: "Bobby Tables"},
		{Name: "张伟"},
	} {
		f.people[p.Name] = f.pub.Join(p)
		f.private[p.Name] = f.priv.Join(p)
	}
	f.router = New(Config{
		Store: st, Client: client, Meetings: f.meet, Scheduler: f.sched, BotName: "meetbot",
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	return f
}

// do runs text as the fixture's user with rights.
func (f *fixture) do(rights chat.Rights, text string) chat.Reply {
	return f.router.Handle(context.Background(), chat.Request{Channel: f.ch, User: f.user, Rights: rights, Text: text})
}

// link links the fixture's channel to room and fails the test unless it worked.
func (f *fixture) link(t testing.TB, args string) {
	t.Helper()
	rep := f.do(chat.Admin, "link "+args)
	if rep.Failed || !rep.Public {
		t.Fatalf("link %s: %+v", args, rep)
	}
	f.sim.ResetRequests()
}

// ops returns the platform operations the simulator saw since the last reset, without the
// session bookkeeping (tokens, participants, events).
func (f *fixture) ops() []string {
	var out []string
	for _, r := range f.sim.Requests() {
		switch r.Op {
		case "refresh_session", "events", "participants", "new_session", "end_session":
			continue
		}
		out = append(out, r.Op)
	}
	return out
}

// participantOps returns the participant commands the simulator saw, as "op uuid".
func (f *fixture) participantOps() []string {
	var out []string
	for _, r := range f.sim.Requests() {
		if strings.HasPrefix(r.Op, "participant/") {
			out = append(out, r.Op+" "+r.Participant)
		}
	}
	return out
}

func simParticipant(t testing.TB, room *sim.Room, uuid string) sim.Participant {
	t.Helper()
	p, ok := room.Participant(uuid)
	if !ok {
		t.Fatalf("participant %s is gone", uuid)
	}
	return p
}

// refresh tells the test Meetings the meeting changed.
func (f *fixture) refresh(t testing.TB) {
	t.Helper()
	l, err := f.store.GetLink(context.Background(), f.ch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.meet.refresh(context.Background(), l); err != nil {
		t.Fatal(err)
	}
}

func mustContain(t testing.TB, rep chat.Reply, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(rep.Text, p) {
			t.Errorf("reply %q lacks %q", rep.Text, p)
		}
	}
}

// errorsMeetings fails or panics in Roster, for the error paths of the dispatcher.
type errorsMeetings struct {
	*testMeetings
	err   error
	panic bool
}

func (m errorsMeetings) Roster(ctx context.Context, l store.Link) ([]meetings.Participant, error) {
	if m.panic {
		panic("roster exploded")
	}
	return nil, m.err
}

var _ Meetings = errorsMeetings{}
