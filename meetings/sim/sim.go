package sim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a Server. The zero value gives the platform's own timings.
type Options struct {
	// TokenTTL is how long a token stays valid without a refresh; default 120 s.
	TokenTTL time.Duration
	// DialAnswerAfter is how long a dialled participant stays "connecting" before it answers; default 2 s.
	DialAnswerAfter time.Duration
	// DialTimeout is how long a dialled participant that never answers stays before it is removed;
	// default 30 s.
	DialTimeout time.Duration
	// KeepAlive is the interval of the ":" comment lines on idle event streams; default 15 s.
	KeepAlive time.Duration
	// Retry, when set, starts every event stream with a "retry:" field of this many
	// milliseconds (clarification 1 asks clients to honour it); default none.
	Retry time.Duration
	// StreamBuffer is how many events may wait for one slow subscriber before its stream is
	// dropped; default 4096. Waiting events cost memory only while they wait.
	StreamBuffer int
	// MaxRecorded bounds how many requests Requests keeps (the newest); default 10,000.
	MaxRecorded int
	// Logger receives warnings about unmodelled routes and debug lines; default discards.
	Logger *slog.Logger
	// Now is the clock tokens are judged by; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.TokenTTL <= 0 {
		o.TokenTTL = 120 * time.Second
	}
	if o.DialAnswerAfter <= 0 {
		o.DialAnswerAfter = 2 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 30 * time.Second
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 15 * time.Second
	}
	if o.StreamBuffer <= 0 {
		o.StreamBuffer = 4096
	}
	if o.MaxRecorded <= 0 {
		o.MaxRecorded = 10000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Server is the simulated platform: an http.Handler serving checkJoin, every command under
// /api/services/, the event streams, and the control surface under /_sim/. Create it with New;
// it is safe for concurrent use.
type Server struct {
	// Options are read once, at first use; set them before (New does).
	Options Options

	once sync.Once
	opts Options
	log  *slog.Logger
	ctl  *http.ServeMux

	mu     sync.Mutex
	rooms  map[string]*Room // by number and by alias (lower-cased)
	list   []*Room
	faults []*fault
	// streamFs has a lock of its own: a dial takes from it while holding its room's lock,
	// and AddRoom holds mu while it takes a room's.
	streamMu sync.Mutex
	streamFs []streamFault
	latency  time.Duration
	requests []RecordedRequest
	// Hook, when set, sees every platform request before the simulator answers it; if it
	// returns true it has written the answer itself.
	hook func(w http.ResponseWriter, r *http.Request, op string) bool
}

// streamFault is what happens to one streaming dial: it never connects, or it connects and
// hangs up dropAfter later. The zero value is a dial that connects and stays.
type streamFault struct {
	neverConnect bool
	dropAfter    time.Duration
}

type fault struct {
	op     string
	status int           // 0 = answer normally
	delay  time.Duration // extra wait before answering
	n      int
}

// RecordedRequest is one platform request as the simulator saw it.
type RecordedRequest struct {
	Method      string
	Op          string // "checkJoin", "new_session", "lock", "participant/mute", "events", …
	Room        string // as written in the path
	Participant string // the uuid in the path of a participant command
	Body        []byte
	TokenValid  bool
	Time        time.Time
}

// New returns a Server with no rooms (add them with AddRoom), configured by opts. A zero
// Server is ready for use too, with the default Options.
func New(opts Options) *Server {
	s := &Server{Options: opts}
	s.init()
	return s
}

// init makes a zero Server ready: defaults, maps, the control routes.
func (s *Server) init() {
	s.once.Do(func() {
		s.opts = s.Options.withDefaults()
		s.log = s.opts.Logger
		s.rooms = map[string]*Room{}
		s.ctl = s.controlMux()
	})
}

// AddRoom creates a room, or replaces the configuration of the room with the same number or
// alias (its people and streams stay). A room without a number gets one.
func (s *Server) AddRoom(cfg RoomConfig) *Room {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if cfg.Number == "" {
		cfg.Number = strconv.Itoa(1000 + len(s.list) + 1)
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Alias
		if cfg.Name == "" {
			cfg.Name = "Room " + cfg.Number
		}
	}
	var r *Room
	if old := s.rooms[strings.ToLower(cfg.Number)]; old != nil {
		r = old
	} else if old := s.rooms[strings.ToLower(cfg.Alias)]; cfg.Alias != "" && old != nil {
		r = old
	}
	if r == nil {
		r = newRoom(s, cfg)
		s.list = append(s.list, r)
	} else {
		r.mu.Lock()
		r.cfg = cfg
		r.mu.Unlock()
	}
	s.rooms[strings.ToLower(cfg.Number)] = r
	if cfg.Alias != "" {
		s.rooms[strings.ToLower(cfg.Alias)] = r
	}
	return r
}

// Room returns the room with this number or alias, or nil.
func (s *Server) Room(numberOrAlias string) *Room {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[strings.ToLower(numberOrAlias)]
}

// Rooms returns every room, in the order they were added.
func (s *Server) Rooms() []*Room {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Room(nil), s.list...)
}

// FailNext makes the next n platform requests of operation op answer HTTP status with a
// failure body instead of being served. op is a RecordedRequest.Op ("lock", "new_session",
// "participant/mute", "events", "checkJoin") or "*" for any request. Faults queue in order.
func (s *Server) FailNext(op string, status int, n int) {
	s.init()
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{op: op, status: status, n: n})
}

// SlowNext makes the next n platform requests of operation op (as FailNext names them) wait d
// before they are answered, on top of any SetLatency. Faults queue in order.
func (s *Server) SlowNext(op string, d time.Duration, n int) {
	s.init()
	if n <= 0 || d <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{op: op, delay: d, n: n})
}

// FailStreamingDials makes the next n streaming dials (RTMP with streaming "yes", any room)
// fail to connect: each is accepted, appears as "connecting", and is removed (participant_delete)
// after DialTimeout, as a recorder or stream server that never answers would be. Streaming
// faults queue in order.
func (s *Server) FailStreamingDials(n int) {
	s.addStreamFaults(streamFault{neverConnect: true}, n)
}

// DropStreamingAfter makes the next n streaming dials connect as usual and then hang up d after
// connecting: the participant leaves (participant_delete), as when the recorder or the stream
// server ends the call. Streaming faults queue in order.
func (s *Server) DropStreamingAfter(d time.Duration, n int) {
	if d <= 0 {
		d = time.Nanosecond
	}
	s.addStreamFaults(streamFault{dropAfter: d}, n)
}

func (s *Server) addStreamFaults(f streamFault, n int) {
	s.init()
	s.streamMu.Lock()
	defer s.streamMu.Unlock()
	for range n {
		s.streamFs = append(s.streamFs, f)
	}
}

// takeStreamFault returns what should happen to the streaming dial being served.
func (s *Server) takeStreamFault() streamFault {
	s.streamMu.Lock()
	defer s.streamMu.Unlock()
	if len(s.streamFs) == 0 {
		return streamFault{}
	}
	f := s.streamFs[0]
	s.streamFs = s.streamFs[1:]
	return f
}

// ClearFaults forgets every queued FailNext, SlowNext and streaming fault, and the latency.
func (s *Server) ClearFaults() {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.latency = 0
	s.streamMu.Lock()
	s.streamFs = nil
	s.streamMu.Unlock()
}

// SetLatency makes every later platform request wait d before it is answered (0 = none).
func (s *Server) SetLatency(d time.Duration) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ExpireTokens lapses every session in every room at once, as if none had refreshed in time:
// each token answers 403 "Invalid token" from now on, each session's participant is dropped,
// and its event streams receive a disconnect event with reason
// "Timer expired awaiting token refresh" before they close.
func (s *Server) ExpireTokens() {
	s.init()
	for _, r := range s.Rooms() {
		r.expireAll()
	}
}

// SetHook installs fn to see every platform request (after recording, before faults); if fn
// returns true it has answered the request itself. nil removes the hook.
func (s *Server) SetHook(fn func(w http.ResponseWriter, r *http.Request, op string) bool) {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = fn
}

// Requests returns the platform requests served so far (the newest MaxRecorded), oldest first.
func (s *Server) Requests() []RecordedRequest {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.requests
	if len(rs) > s.opts.MaxRecorded {
		rs = rs[len(rs)-s.opts.MaxRecorded:]
	}
	return append([]RecordedRequest(nil), rs...)
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

func (s *Server) record(rr RecordedRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) >= 2*s.opts.MaxRecorded {
		// Trim in bulk, so recording stays cheap per request.
		n := copy(s.requests, s.requests[len(s.requests)-s.opts.MaxRecorded:])
		clear(s.requests[n:])
		s.requests = s.requests[:n]
	}
	s.requests = append(s.requests, rr)
}

// takeFault returns the status of the first queued failure matching op (or 0) and how long to
// wait before answering.
func (s *Server) takeFault(op string) (status int, wait time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait = s.latency
	kept := s.faults[:0]
	failed, slowed := false, false
	for _, f := range s.faults {
		match := f.op == op || f.op == "*"
		switch {
		case match && f.status != 0 && !failed:
			failed, status = true, f.status
			f.n--
		case match && f.status == 0 && !slowed:
			slowed = true
			wait += f.delay
			f.n--
		}
		if f.n > 0 {
			kept = append(kept, f)
		}
	}
	clear(s.faults[len(kept):])
	s.faults = kept
	return status, wait
}

func (s *Server) now() time.Time { return s.opts.Now() }

// newUUID returns a random version 4 uuid.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newToken returns an opaque random token shaped like the platform's (URL-escaped base64).
func newToken() string {
	var b [36]byte
	_, _ = rand.Read(b[:])
	return strings.ReplaceAll(base64.StdEncoding.EncodeToString(b[:]), "=", "%3D")
}

func sortParticipants(ps []Participant) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].seq < ps[j].seq })
}
