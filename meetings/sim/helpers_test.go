package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// env is one simulator behind a loopback HTTP server, with a plain net/http client.
type env struct {
	t   testing.TB
	sim *Server
	ts  *httptest.Server
}

func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return &env{t: t, sim: s, ts: ts}
}

// answer is one decoded platform answer.
type answer struct {
	Status int
	Body   []byte
	Result json.RawMessage
}

func (a answer) str() string {
	var s string
	_ = json.Unmarshal(a.Result, &s)
	return s
}

func (a answer) obj() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(a.Result, &m)
	return m
}

// do sends one request; body may be nil, a string (sent raw) or a value (sent as JSON).
func (e *env) do(method, path string, hdr map[string]string, body any) answer {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
		ct = "application/json"
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Body: b}
	var env struct {
		Status string          `json:"status"`
		Result json.RawMessage `json:"result"`
	}
	if json.Unmarshal(b, &env) == nil {
		a.Result = env.Result
	}
	return a
}

// tsession is a token held by the test.
type tsession struct {
	e     *env
	room  string
	token string
	uuid  string
	info  map[string]any
}

func (e *env) open(room, name, pin string) *tsession {
	e.t.Helper()
	s, a := e.tryOpen(room, name, pin, false)
	if s == nil {
		e.t.Fatalf("new_session %s as %s: %d %s", room, name, a.Status, a.Body)
	}
	return s
}

func (e *env) tryOpen(room, name, pin string, hidden bool) (*tsession, answer) {
	e.t.Helper()
	hdr := map[string]string{}
	if pin != "" {
		hdr["pin"] = pin
	}
	hide := "no"
	if hidden {
		hide = "yes"
	}
	a := e.do("POST", "/api/services/"+room+"/new_session", hdr, map[string]string{"display_name": name, "hideme": hide})
	if a.Status != 200 {
		return nil, a
	}
	m := a.obj()
	return &tsession{e: e, room: room, token: m["token"].(string), uuid: m["participant_uuid"].(string), info: m}, a
}

func (s *tsession) get(op string) answer {
	s.e.t.Helper()
	return s.e.do("GET", "/api/services/"+s.room+"/"+op, map[string]string{"token": s.token}, nil)
}

func (s *tsession) post(op string, body any) answer {
	s.e.t.Helper()
	return s.e.do("POST", "/api/services/"+s.room+"/"+op, map[string]string{"token": s.token}, body)
}

func (s *tsession) part(uuid, cmd string, body any) answer {
	s.e.t.Helper()
	return s.post("participants/"+uuid+"/"+cmd, body)
}

// event is one server-sent event as read off the wire.
type event struct {
	Name string
	ID   string
	Data string
}

func (ev event) decode(v any) error { return json.Unmarshal([]byte(ev.Data), v) }

func (ev event) participant() map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(ev.Data), &m)
	return m
}

// stream is an open event stream read by a goroutine; comments arrive as events named ":".
type stream struct {
	t      testing.TB
	events chan event
	cancel context.CancelFunc
	done   chan struct{}
	resp   *http.Response
}

func (s *tsession) stream() *stream {
	s.e.t.Helper()
	st, status := s.tryStream()
	if st == nil {
		s.e.t.Fatalf("events: status %d", status)
	}
	return st
}

func (s *tsession) tryStream() (*stream, int) {
	t := s.e.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.e.ts.URL+"/api/services/"+s.room+"/events?token="+url.QueryEscape(s.token), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("events: %v", err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("events Content-Type = %q, want text/event-stream", ct)
	}
	st := &stream{t: t, events: make(chan event, 4096), cancel: cancel, done: make(chan struct{}), resp: resp}
	go st.read()
	t.Cleanup(st.close)
	return st, 200
}

func (st *stream) read() {
	defer close(st.done)
	defer close(st.events)
	sc := bufio.NewScanner(st.resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var ev event
	var data []string
	have := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if have {
				ev.Data = strings.Join(data, "\n")
				st.events <- ev
			}
			ev, data, have = event{}, nil, false
		case strings.HasPrefix(line, ":"):
			st.events <- event{Name: ":"}
		default:
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			have = true
			switch k {
			case "event":
				ev.Name = v
			case "id":
				ev.ID = v
			case "data":
				data = append(data, v)
			}
		}
	}
}

func (st *stream) close() {
	st.cancel()
	st.resp.Body.Close()
	<-st.done
}

// next returns the next event that is not a comment; it fails the test after a while.
func (st *stream) next() event {
	st.t.Helper()
	for {
		select {
		case ev, ok := <-st.events:
			if !ok {
				st.t.Fatal("event stream closed, want another event")
			}
			if ev.Name == ":" {
				continue
			}
			return ev
		case <-time.After(5 * time.Second):
			st.t.Fatal("no event within 5 s")
		}
	}
}

// until skips events until one named name arrives and returns it.
func (st *stream) until(name string) event {
	st.t.Helper()
	for {
		if ev := st.next(); ev.Name == name {
			return ev
		}
	}
}

// sync reads the subscription's sync bracket and returns the participants in it.
func (st *stream) sync(wantItem string) []map[string]any {
	st.t.Helper()
	if ev := st.next(); ev.Name != "participant_sync_begin" || ev.Data != "null" {
		st.t.Fatalf("first event = %+v, want participant_sync_begin with data null", ev)
	}
	var ps []map[string]any
	for {
		ev := st.next()
		if ev.Name == "participant_sync_end" {
			if ev.Data != "null" {
				st.t.Errorf("participant_sync_end data = %s, want null", ev.Data)
			}
			return ps
		}
		if ev.Name != wantItem {
			st.t.Fatalf("event in sync = %s, want %s", ev.Name, wantItem)
		}
		ps = append(ps, ev.participant())
	}
}

// closed waits for the stream to end and returns the events that came before the end.
func (st *stream) closed() []event {
	st.t.Helper()
	var evs []event
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-st.events:
			if !ok {
				return evs
			}
			if ev.Name != ":" {
				evs = append(evs, ev)
			}
		case <-timeout:
			st.t.Fatal("stream still open after 5 s")
			return nil
		}
	}
}

func names(ps []map[string]any) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p["display_name"].(string))
	}
	return out
}
