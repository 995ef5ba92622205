package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/meetbot/meetbot/chat"
)

const (
	testSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	testTeam   = "T0001"
	testChan   = "C0001"
)

// apiCall is one recorded Web API request.
type apiCall struct {
	Method string // "chat.postMessage"
	Form   url.Values
	At     time.Time
	Status int // what the fake answered
	TS     string
	Body   []byte // the raw body of a JSON request (views.publish)
}

// fakeCall is one Slack Call as the fake keeps it: its participants by external_id.
type fakeCall struct {
	ID, ExternalID, JoinURL, Title, CreatedBy, DateStart string
	Participants                                         map[string]string // external_id → display_name
	Ended                                                bool
	Duration                                             string
}

// webhookCall is one recorded response_url request.
type webhookCall struct {
	Path            string
	Text            string          `json:"text"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	ThreadTS        string          `json:"thread_ts"`
	Blocks          json.RawMessage `json:"blocks"`
}

// fakeSlack is a recording fake of the Slack Web API, the response_url endpoint and (when a test
// opens it) the Socket Mode websocket, on a loopback httptest server.
type fakeSlack struct {
	t   *testing.T
	srv *httptest.Server
	// responseURLBase replaces the server's response_url base (fuzzing and benchmarks, no server).
	responseURLBase string

	mu          sync.Mutex
	calls       []apiCall
	users       map[string]map[string]any // user id → users.info "user" object
	groups      map[string][]string
	nextTS      int
	override    map[string]func(n int, form url.Values) (status int, header http.Header, body string)
	counts      map[string]int
	scopes      string               // x-oauth-scopes of every answer
	slackCalls  map[string]*fakeCall // call id → call
	chanMembers map[string][]string  // channel id → member ids (conversations.members)
	uploads     map[string][]byte    // file id → bytes sent to its upload URL
	uploadFail  func(n int) int      // status for the n-th upload request, 0 for 200
	nUploads    int

	webhooks chan webhookCall

	// Socket Mode
	envelopes chan string    // frames the test wants sent after hello
	acks      chan socketAck // acks the client sent
	wsConns   chan struct{}  // one per websocket connection
	upgrader  websocket.Upgrader
}

type socketAck struct {
	EnvelopeID string          `json:"envelope_id"`
	Payload    json.RawMessage `json:"payload"`
}

func newFakeSlack(t *testing.T) *fakeSlack {
	t.Helper()
	f := &fakeSlack{
		t:           t,
		users:       map[string]map[string]any{},
		groups:      map[string][]string{},
		override:    map[string]func(int, url.Values) (int, http.Header, string){},
		counts:      map[string]int{},
		webhooks:    make(chan webhookCall, 1000),
		envelopes:   make(chan string, 100),
		acks:        make(chan socketAck, 100),
		wsConns:     make(chan struct{}, 10),
		upgrader:    websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		nextTS:      1700000000,
		scopes:      "commands,chat:write,chat:write.public,users:read,usergroups:read",
		slackCalls:  map[string]*fakeCall{},
		chanMembers: map[string][]string{},
		uploads:     map[string][]byte{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", f.serveAPI)
	mux.HandleFunc("/response/", f.serveResponse)
	mux.HandleFunc("/ws", f.serveWS)
	mux.HandleFunc("/upload/", f.serveUpload)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) apiURL() string { return f.srv.URL + "/api/" }

func (f *fakeSlack) responseURL(id string) string {
	if f.responseURLBase != "" {
		return f.responseURLBase + id
	}
	return f.srv.URL + "/response/" + id
}

func slashBodyFor(f *fakeSlack, text string) string { return slashBody(f, testChan, "U1", text, "r") }

func pressPayloadFor(f *fakeSlack, blockID, value string) string {
	return pressPayload(f, "U1", blockID, value, "r", "")
}

// on overrides a Web API method; n counts that method's calls from 1.
func (f *fakeSlack) on(method string, h func(n int, form url.Values) (int, http.Header, string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.override[method] = h
}

func (f *fakeSlack) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	var raw []byte
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		raw, _ = io.ReadAll(r.Body)
	} else if err := r.ParseForm(); err != nil {
		f.t.Errorf("fake slack: %s: bad form: %v", method, err)
	}
	f.mu.Lock()
	w.Header().Set("X-OAuth-Scopes", f.scopes)
	f.counts[method]++
	n := f.counts[method]
	h := f.override[method]
	f.mu.Unlock()

	call := apiCall{Method: method, Form: r.PostForm, At: time.Now(), Status: http.StatusOK, Body: raw}
	if h != nil {
		status, header, body := h(n, r.PostForm)
		if status != 0 {
			for k, v := range header {
				w.Header()[k] = v
			}
			call.Status = status
			if status == http.StatusOK {
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
			f.record(call)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	var resp any
	switch method {
	case "chat.postMessage", "chat.update":
		f.mu.Lock()
		ts := r.PostForm.Get("ts")
		if method == "chat.postMessage" {
			f.nextTS++
			ts = fmt.Sprintf("%d.%06d", f.nextTS, n)
		}
		f.mu.Unlock()
		call.TS = ts
		resp = map[string]any{"ok": true, "channel": r.PostForm.Get("channel"), "ts": ts}
	case "users.info":
		f.mu.Lock()
		u, ok := f.users[r.PostForm.Get("user")]
		f.mu.Unlock()
		if !ok {
			resp = map[string]any{"ok": false, "error": "user_not_found"}
		} else {
			resp = map[string]any{"ok": true, "user": u}
		}
	case "usergroups.users.list":
		f.mu.Lock()
		ids, ok := f.groups[r.PostForm.Get("usergroup")]
		f.mu.Unlock()
		if !ok {
			resp = map[string]any{"ok": false, "error": "no_such_subteam"}
		} else {
			resp = map[string]any{"ok": true, "users": ids}
		}
	case "auth.test":
		if r.Header.Get("Authorization") != "Bearer xoxb-test-token" {
			resp = map[string]any{"ok": false, "error": "invalid_auth"}
		} else {
			resp = map[string]any{"ok": true, "user_id": "UBOT", "team_id": testTeam}
		}
	case "calls.add", "calls.participants.add", "calls.participants.remove", "calls.end":
		resp = f.serveCalls(method, r.PostForm)
	case "conversations.members":
		f.mu.Lock()
		ids, ok := f.chanMembers[r.PostForm.Get("channel")]
		f.mu.Unlock()
		if !ok {
			resp = map[string]any{"ok": false, "error": "channel_not_found"}
		} else {
			resp = map[string]any{"ok": true, "members": ids, "response_metadata": map[string]any{"next_cursor": ""}}
		}
	case "files.getUploadURLExternal":
		id := fmt.Sprintf("F%d", n)
		resp = map[string]any{"ok": true, "file_id": id, "upload_url": f.srv.URL + "/upload/" + id}
	case "files.completeUploadExternal":
		var files []map[string]string
		if err := json.Unmarshal([]byte(r.PostForm.Get("files")), &files); err != nil {
			f.t.Errorf("fake slack: files.completeUploadExternal: files %q: %v", r.PostForm.Get("files"), err)
		}
		f.mu.Lock()
		for _, fl := range files {
			if _, ok := f.uploads[fl["id"]]; !ok {
				f.t.Errorf("fake slack: completing file %s whose bytes were never uploaded", fl["id"])
			}
		}
		f.mu.Unlock()
		resp = map[string]any{"ok": true, "files": files}
	case "views.publish":
		resp = map[string]any{"ok": true, "view": map[string]any{"id": "V1", "type": "home"}}
	case "apps.connections.open":
		resp = map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws"}
	default:
		f.t.Errorf("fake slack: unexpected Web API method %s", method)
		resp = map[string]any{"ok": false, "error": "unknown_method"}
	}
	_ = json.NewEncoder(w).Encode(resp)
	f.record(call)
}

// serveCalls plays the Calls API: participants are kept by external_id, and a remove that
// lacks the display_name is ignored, as Slack silently does.
func (f *fakeSlack) serveCalls(method string, form url.Values) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if method == "calls.add" {
		id := fmt.Sprintf("R%03d", len(f.slackCalls)+1)
		c := &fakeCall{ID: id, ExternalID: form.Get("external_unique_id"), JoinURL: form.Get("join_url"),
			Title: form.Get("title"), CreatedBy: form.Get("created_by"), DateStart: form.Get("date_start"),
			Participants: map[string]string{}}
		if c.JoinURL == "" || c.ExternalID == "" || c.CreatedBy == "" {
			return map[string]any{"ok": false, "error": "invalid_arguments"}
		}
		f.applyUsers(c, form.Get("users"), true)
		f.slackCalls[id] = c
		return map[string]any{"ok": true, "call": map[string]any{"id": id}}
	}
	c, ok := f.slackCalls[form.Get("id")]
	if !ok {
		return map[string]any{"ok": false, "error": "not_found"}
	}
	switch method {
	case "calls.participants.add":
		f.applyUsers(c, form.Get("users"), true)
	case "calls.participants.remove":
		f.applyUsers(c, form.Get("users"), false)
	case "calls.end":
		c.Ended, c.Duration = true, form.Get("duration")
	}
	return map[string]any{"ok": true}
}

func (f *fakeSlack) applyUsers(c *fakeCall, users string, add bool) {
	if users == "" {
		return
	}
	var us []struct {
		ExternalID  string `json:"external_id"`
		DisplayName string `json:"display_name"`
	}
	if err := json.Unmarshal([]byte(users), &us); err != nil {
		f.t.Errorf("fake slack: users %q: %v", users, err)
		return
	}
	for _, u := range us {
		switch {
		case add:
			c.Participants[u.ExternalID] = u.DisplayName
		case u.DisplayName != "":
			delete(c.Participants, u.ExternalID)
		}
	}
}

// callState returns a copy of the fake's call with external id ext, or nil.
func (f *fakeSlack) callState(ext string) *fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.slackCalls {
		if c.ExternalID == ext {
			cp := *c
			cp.Participants = maps.Clone(c.Participants)
			return &cp
		}
	}
	return nil
}

func (f *fakeSlack) record(c apiCall) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
}

// serveUpload plays the upload URL files.getUploadURLExternal hands out: a multipart POST whose
// "file" part holds the bytes.
func (f *fakeSlack) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	f.mu.Lock()
	f.nUploads++
	n, fail := f.nUploads, f.uploadFail
	f.mu.Unlock()
	if fail != nil {
		if st := fail(n); st != 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(st)
			return
		}
	}
	file, _, err := r.FormFile("file")
	if err != nil {
		f.t.Errorf("fake slack: upload %s: %v", id, err)
		http.Error(w, "bad", http.StatusBadRequest)
		return
	}
	defer file.Close()
	b, _ := io.ReadAll(file)
	f.mu.Lock()
	f.uploads[id] = b
	f.mu.Unlock()
	f.record(apiCall{Method: "upload", Form: url.Values{"id": {id}}, At: time.Now(), Status: 200, Body: b})
	_, _ = io.WriteString(w, "OK - "+strconv.Itoa(len(b)))
}

// serveResponse plays a response_url endpoint: it answers "ok" as plain text, as Slack does.
func (f *fakeSlack) serveResponse(w http.ResponseWriter, r *http.Request) {
	var c webhookCall
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		f.t.Errorf("fake slack: response_url body: %v", err)
	}
	c.Path = strings.TrimPrefix(r.URL.Path, "/response/")
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok")
	f.webhooks <- c
}

// serveWS plays Slack's Socket Mode server: hello, then the test's envelopes; it records acks.
func (f *fakeSlack) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := f.upgrader.Upgrade(w, r, nil)
	if err != nil {
		f.t.Errorf("fake slack: websocket upgrade: %v", err)
		return
	}
	defer conn.Close()
	f.wsConns <- struct{}{}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		defer cancel()
		for {
			var a socketAck
			if err := conn.ReadJSON(&a); err != nil {
				return
			}
			f.acks <- a
		}
	}()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","num_connections":1,"connection_info":{"app_id":"A1"}}`)); err != nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case env := <-f.envelopes:
			if err := conn.WriteMessage(websocket.TextMessage, []byte(env)); err != nil {
				return
			}
		}
	}
}

// callsOf returns the recorded calls of one Web API method.
func (f *fakeSlack) callsOf(method string) []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []apiCall
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// nextWebhook waits for the next response_url request.
func (f *fakeSlack) nextWebhook(t *testing.T) webhookCall {
	t.Helper()
	select {
	case c := <-f.webhooks:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no response_url request arrived")
	}
	return webhookCall{}
}

// noMoreWebhooks asserts nothing else was said through response_url.
func (f *fakeSlack) noMoreWebhooks(t *testing.T) {
	t.Helper()
	select {
	case c := <-f.webhooks:
		t.Errorf("unexpected response_url request: %+v", c)
	default:
	}
}

// recorder is a chat.Handler that records requests and answers from a table.
type recorder struct {
	mu    sync.Mutex
	reqs  []chat.Request
	reply func(chat.Request) chat.Reply
}

func (r *recorder) Handle(_ context.Context, req chat.Request) chat.Reply {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	f := r.reply
	r.mu.Unlock()
	if f == nil {
		return chat.Reply{Text: "ok"}
	}
	return f(req)
}

func (r *recorder) requests() []chat.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]chat.Request(nil), r.reqs...)
}

// newTestAdapter starts an adapter against f with its HTTP endpoints on a loopback server, and
// Run in the background until the test ends.
func newTestAdapter(t *testing.T, f *fakeSlack, h chat.Handler, mutate ...func(*Config)) (*Adapter, *httptest.Server) {
	t.Helper()
	cfg := Config{
		BotToken:      "xoxb-test-token",
		SigningSecret: testSecret,
		Hosts:         []string{"UHOST", "SHOSTS"},
		APIURL:        f.apiURL(),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := New(cfg, h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.statusGap = 5 * time.Millisecond
	a.callGap = 5 * time.Millisecond
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		srv.Close()
	})
	select {
	case <-a.probed:
	case <-time.After(10 * time.Second):
		t.Fatal("auth.test never answered")
	}
	return a, srv
}

// sign sets Slack's signature headers for body at ts under secret.
func sign(req *http.Request, secret string, ts time.Time, body string) {
	s := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", s, body)
	req.Header.Set("X-Slack-Request-Timestamp", s)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
}

// post sends a signed form request and returns the status.
func post(t *testing.T, url, secret string, ts time.Time, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		sign(req, secret, ts, body)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// slashBody is a slash command's form body.
func slashBody(f *fakeSlack, channel, user, text, responseID string) string {
	v := url.Values{
		"token":        {"deprecated"},
		"team_id":      {testTeam},
		"team_domain":  {"acme"},
		"channel_id":   {channel},
		"channel_name": {"general"},
		"user_id":      {user},
		"user_name":    {strings.ToLower(user)},
		"command":      {"/meet"},
		"text":         {text},
		"response_url": {f.responseURL(responseID)},
		"trigger_id":   {"13345224609.738474920.8088930838d88f008e0"},
		"api_app_id":   {"A123456"},
	}
	return v.Encode()
}

// pressPayload is a block_actions payload for a press of a button with value in block blockID.
func pressPayload(f *fakeSlack, user, blockID, value, responseID, threadTS string) string {
	p := map[string]any{
		"type":         "block_actions",
		"team":         map[string]any{"id": testTeam, "domain": "acme"},
		"user":         map[string]any{"id": user, "username": strings.ToLower(user), "name": strings.ToLower(user), "team_id": testTeam},
		"api_app_id":   "A123456",
		"container":    map[string]any{"type": "message", "message_ts": "1700000001.000100", "channel_id": testChan, "is_ephemeral": true, "thread_ts": threadTS},
		"trigger_id":   "12321423423.333649436676.d8c1bb837935619ccad0f624c448ffb3",
		"channel":      map[string]any{"id": testChan, "name": "general"},
		"response_url": f.responseURL(responseID),
		"actions": []any{map[string]any{
			"type": "button", "action_id": "mb-r-0-0", "block_id": blockID,
			"text":  map[string]any{"type": "plain_text", "text": "Mute"},
			"value": value, "action_ts": "1700000002.000200",
		}},
	}
	b, _ := json.Marshal(p)
	return b2s(b)
}

func b2s(b []byte) string { return string(b) }

func interactionBody(payload string) string { return url.Values{"payload": {payload}}.Encode() }

// eventually polls cond until it holds, failing the test after a generous deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// unescapedJSON re-encodes JSON without HTML escaping (\u0026 → &), so tests can look for text.
func unescapedJSON(s string) string {
	if s == "" {
		return ""
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return s
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.String()
}

func mustURL(path string) *url.URL {
	u, err := url.Parse(path)
	if err != nil {
		panic(err)
	}
	return u
}
