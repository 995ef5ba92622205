package pexipcheck_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/internal/pexipcheck"
	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

// pageWins lists the differences from Pexip's definitions that the vendor's page
// (shared/api/platform-api.md) makes on purpose: where the page is explicit, the page is the
// platform and wins (meetings/sim/doc.go lists them for readers). Keys are "<answer|request|event>
// <subject> <path> <kind>[ <field>]", with array indices written "*". The test fails on a
// difference not listed here, and on an entry here that no longer happens.
var pageWins = map[string]string{
	// Answers.
	"answer new_session 200 /result/expires type":                  "section 3: new_session's expires is a number (120); Pexip's schema has a string (refresh_session's is a string on both)",
	"answer new_session 200 /result required current_service_type": "section 7: a private-cloud node's new_session lacks fields (current_service_type among them)",
	"answer new_session 404 /status enum":                          `clarification 6: errors come with "status": "success"; Pexip's 404 has "failed"`,
	"answer new_session 415 /status enum":                          `clarification 6: errors come with "status": "success"; Pexip's 415 has "failed"`,
	// Requests the client sends.
	"request new_session /hideme unknown": "section 3: new_session takes hideme, which Pexip's request_token body does not know",
	"request dial /role enum":             "section 4: dial's role is guest or chair; Pexip's schema has HOST or GUEST",
	"request dial /protocol enum":         "section 4: dial takes protocol phone, which Pexip's schema does not list",
	// Events.
	"event service_update  name":           "section 6: the page's name; Pexip's is conference_update (clarification 2 accepts both)",
	"event message  name":                  "section 6: the page's name; Pexip's is message_received (clarification 2 accepts both)",
	"event bye  name":                      "clarification 2: bye closes the stream; Pexip's client has no such event",
	"event presentation_frame  data":       "clarification 1: bodiless events carry data: null; Pexip's has no data",
	"event presentation_stop  data":        "clarification 1: bodiless events carry data: null; Pexip's has no data",
	"event participant_sync_begin  data":   "clarification 1: bodiless events carry data: null; Pexip's has no data",
	"event participant_sync_end  data":     "clarification 1: bodiless events carry data: null; Pexip's has no data",
	"event refresh_token  data":            "clarification 1: bodiless events carry data: null; Pexip's has no data",
	"event call_disconnected /reason type": `section 6: call_disconnected's reason is a string; @pexip/infinity's type has an object {"reason": …}`,
}

// unchecked lists what the simulator answers that Pexip publishes no definition for, by
// "<op> <status>" ("<op> *" for every status), with why.
var unchecked = map[string]string{
	"checkJoin *":                  "the vendor's own lookup service, not part of Pexip's API",
	"override_layout *":            "Pexip's layout command is transform_layout, with another body",
	"participant/cancel_delay *":   "a vendor command Pexip does not have",
	"participant/resume_delay *":   "a vendor command Pexip does not have",
	"presentation.jpeg *":          "an image",
	"events 200":                   "a stream: each of its events is checked",
	"override_layout 400":          "section 7: a private node refuses it; Pexip has no such answer",
	"participant/spotlighton 400":  "section 7: a private node refuses it; Pexip has no such answer",
	"participant/unlock 400":       "section 7: a private node refuses it; Pexip has no such answer",
	"participant/role 400":         "section 7: a private node refuses it; Pexip has no such answer",
	"participant/transfer 400":     "section 7: a private node refuses it; Pexip has no such answer",
	"participant/spotlightoff 400": "section 7: a private node refuses it; Pexip has no such answer",
}

// pexipOp is where Pexip defines one of the page's operations: the validation.js area, the
// stem of its validators' names, the schema each answer status is walked against, and the
// schema of its request body ("" when it takes none).
type pexipOp struct {
	area, stem string
	answers    map[int]string
	body       string
}

var (
	boolAnswer        = map[int]string{200: "lock/200"}
	participantAnswer = map[int]string{200: "mute_participant/200", 403: "take_floor/403"}
)

// pexipOps maps the page's operations (as sim.RecordedRequest.Op names them) to Pexip's, by the
// names of section 8 (new_session is request_token, service_status conference_status, …).
var pexipOps = map[string]pexipOp{
	"new_session":     {"token", "RequestToken", map[int]string{200: "request_token/200", 403: "request_token/403", 404: "request_token/404", 415: "request_token/415", 502: "request_token/502", 503: "request_token/502", 504: "request_token/502"}, "request_token/Body"},
	"refresh_session": {"token", "RefreshToken", map[int]string{200: "refresh_token/200", 403: "refresh_token/403"}, ""},
	"end_session":     {"token", "ReleaseToken", map[int]string{200: "release_token/200", 403: "refresh_token/403"}, "release_token/Body"},
	"dial":            {"conference", "Dial", map[int]string{200: "dial/200"}, "dial/Body"},
	"service_status":  {"conference", "ConferenceStatus", map[int]string{200: "conference_status/200"}, ""},
	"lock":            {"conference", "Lock", boolAnswer, ""},
	"unlock":          {"conference", "Unlock", boolAnswer, ""},
	"start_service":   {"conference", "StartConference", boolAnswer, ""},
	"muteguests":      {"conference", "Muteguests", boolAnswer, ""},
	"unmuteguests":    {"conference", "Unmuteguests", boolAnswer, ""},
	"disconnect":      {"conference", "Disconnect", boolAnswer, ""},
	"message":         {"conference", "MessageConference", boolAnswer, "message_conference/Body"},
	"participants":    {"conference", "Participants", map[int]string{200: "participants/200"}, ""},

	"participant/disconnect":          {"participant", "DisconnectParticipant", map[int]string{200: "disconnect_participant/200", 403: "take_floor/403"}, ""},
	"participant/mute":                {"participant", "MuteParticipant", participantAnswer, ""},
	"participant/unmute":              {"participant", "UnmuteParticipant", participantAnswer, ""},
	"participant/hard_vmute":          {"participant", "VideoMuteParticipant", participantAnswer, ""},
	"participant/hard_uvmute":         {"participant", "VideoUnmuteParticipant", participantAnswer, ""},
	"participant/allowrxpresentation": {"participant", "AllowrxpresentationParticipant", participantAnswer, ""},
	"participant/denyrxpresentation":  {"participant", "DenyrxpresentationParticipant", participantAnswer, ""},
	"participant/spotlighton":         {"participant", "SpotlightonParticipant", participantAnswer, ""},
	"participant/spotlightoff":        {"participant", "SpotlightoffParticipant", participantAnswer, ""},
	"participant/unlock":              {"participant", "UnlockParticipant", participantAnswer, ""},
	"participant/dtmf":                {"participant", "DtmfParticipant", participantAnswer, "dtmf_participant/Body"},
	"participant/role":                {"participant", "RoleParticipant", participantAnswer, "role_participant/Body"},
	"participant/transfer":            {"participant", "TransferParticipant", participantAnswer, "transfer_participant/Body"},
	// participant/calls is CallsWebrtcParticipant or CallsRtmpParticipant by its call_type.
	"call/ack":        {"call", "Ack", map[int]string{200: "ack/200", 403: "ack/403"}, "ack/Body"},
	"call/disconnect": {"call", "DisconnectCall", map[int]string{200: "disconnect_call/200"}, ""},
}

// Pexip's names for the page's events (clarification 2) and the events Pexip's client knows.
var (
	pexipEvent  = map[string]string{"service_update": "conference_update", "message": "message_received"}
	pexipEvents = []string{"participant_create", "participant_update", "participant_delete", "participant_sync_begin",
		"participant_sync_end", "conference_update", "message_received", "stage", "layout", "presentation_start",
		"presentation_stop", "presentation_frame", "disconnect", "call_disconnected", "refresh_token"}
)

// exchange is one request to the simulator and its answer, as the wire carried them.
type exchange struct {
	Method, Path, Op string
	Req              []byte
	Status           int
	ContentType      string
	Body             []byte
}

// recorder is an http.Handler in front of the simulator that keeps every exchange; an event
// stream is kept whole, once its handler returns.
type recorder struct {
	h  http.Handler
	mu sync.Mutex
	xs []exchange
}

type teeWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (t *teeWriter) WriteHeader(code int) {
	if t.status == 0 {
		t.status = code
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	t.buf.Write(b)
	return t.ResponseWriter.Write(b)
}

func (t *teeWriter) Flush() { t.ResponseWriter.(http.Flusher).Flush() }

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	tw := &teeWriter{ResponseWriter: w}
	rec.h.ServeHTTP(tw, r)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.xs = append(rec.xs, exchange{Method: r.Method, Path: r.URL.Path, Op: opOf(r.URL.Path), Req: body,
		Status: tw.status, ContentType: tw.Header().Get("Content-Type"), Body: tw.buf.Bytes()})
}

var (
	confPath = regexp.MustCompile(`^/api/services/[^/]+/([^/]+)$`)
	partPath = regexp.MustCompile(`^/api/services/[^/]+/participants/[^/]+/([^/]+)$`)
	callPath = regexp.MustCompile(`^/api/services/[^/]+/participants/[^/]+/calls/[^/]+/([^/]+)$`)
)

// opOf names a platform path's operation as sim.RecordedRequest.Op does.
func opOf(path string) string {
	if path == "/api/v3/meet/checkJoin.shtml" {
		return "checkJoin"
	}
	if m := callPath.FindStringSubmatch(path); m != nil {
		return "call/" + m[1]
	}
	if m := partPath.FindStringSubmatch(path); m != nil {
		return "participant/" + m[1]
	}
	if m := confPath.FindStringSubmatch(path); m != nil {
		return m[1]
	}
	return path
}

// sseEvent is one event of a recorded stream.
type sseEvent struct {
	Name, ID string
	Data     []byte // nil when the event had no data field
}

func parseSSE(b []byte) []sseEvent {
	var evs []sseEvent
	var cur sseEvent
	var data [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if cur.Name != "" || data != nil {
				if data != nil {
					cur.Data = bytes.Join(data, []byte("\n"))
				}
				evs = append(evs, cur)
			}
			cur, data = sseEvent{}, nil
			continue
		}
		field, val, _ := strings.Cut(line, ":")
		val = strings.TrimPrefix(val, " ")
		switch field {
		case "event":
			cur.Name = val
		case "id":
			cur.ID = val
		case "data":
			data = append(data, []byte(val))
		}
	}
	return evs
}

// The platform's conformance: over a scenario that uses every endpoint and makes every event
// happen, in a default, a rich and a private-cloud room, every answer and event the simulator
// emits and every request body the client sends is checked against Pexip's definitions. Only the
// differences the vendor's page makes on purpose (pageWins) may remain.
func TestPlatformConformance(t *testing.T) {
	checker := pexipcheck.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var all []exchange
	for _, mode := range []string{"default", "rich", "private"} {
		all = append(all, runScenario(ctx, t, mode)...)
	}

	checks, subjects, covered := buildChecks(t, all)
	results, err := checker.Run(ctx, checks)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	counts := map[string]int{}
	samples := map[string]string{} // the unexpected differences
	for i, r := range results {
		c := checks[i]
		if r.Error != "" {
			t.Errorf("%s: check could not run: %s", subjects[i], r.Error)
			continue
		}
		consistent(t, subjects[i], c, r)
		if strings.Contains(subjects[i], compiledOnly) {
			continue
		}
		for _, d := range r.Diffs {
			k := key(subjects[i], d)
			seen[k] = true
			counts[k]++
			if _, ok := pageWins[k]; !ok && counts[k] == 1 {
				samples[k] = fmt.Sprintf("%s %s %s\n\tfirst seen in: %.300s", d.Path, d.Kind, d.Detail, c.Data)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(samples)) {
		t.Errorf("differs from Pexip's definition (%d×): %s\n\t%s", counts[k], k, samples[k])
	}
	for c := range covered {
		if name, ok := strings.CutPrefix(c, "event "); ok {
			if pexipEvent[name] != "" || !slices.Contains(pexipEvents, name) {
				seen["event "+name+"  name"] = true
				if _, ok := pageWins["event "+name+"  name"]; !ok {
					t.Errorf("event %s is not one Pexip's client knows", name)
				}
			}
		}
	}
	for k, why := range pageWins {
		if !seen[k] {
			t.Errorf("expected difference no longer seen (remove it from pageWins and meetings/sim/doc.go): %s (%s)", k, why)
		}
	}
	// The scenario must really exercise every endpoint and event.
	for op := range pexipOps {
		if !covered["answer "+op] {
			t.Errorf("the scenario never called %s", op)
		}
	}
	for _, op := range []string{"participant/calls WEBRTC", "participant/calls RTMP", "override_layout", "participant/cancel_delay", "participant/resume_delay", "presentation.jpeg", "checkJoin"} {
		if !covered["answer "+op] {
			t.Errorf("the scenario never called %s", op)
		}
	}
	for _, ev := range []string{"participant_create", "participant_update", "participant_delete", "participant_sync_begin",
		"participant_sync_end", "service_update", "message", "stage", "layout", "presentation_start", "presentation_stop",
		"presentation_frame", "disconnect", "call_disconnected", "refresh_token", "bye"} {
		if !covered["event "+ev] {
			t.Errorf("the scenario never made a %s event", ev)
		}
	}
	for _, reason := range []string{sim.ReasonAPIKick, sim.ReasonHostEnded, sim.ReasonAdmin} {
		if !covered["reason "+reason] {
			t.Errorf("no disconnect event with reason %q", reason)
		}
	}
	t.Logf("checked %d objects (answers, request bodies, events); differences the page makes on purpose:", len(checks))
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if _, ok := pageWins[k]; ok {
			t.Logf("  %4d× %s", counts[k], k)
		}
	}
}

// key names a difference for pageWins.
func key(subject string, d pexipcheck.Diff) string {
	p := regexp.MustCompile(`/\d+(/|$)`).ReplaceAllString(d.Path, "/*$1")
	k := subject + " " + p + " " + d.Kind
	if d.Kind == "required" {
		k += " " + strings.TrimPrefix(d.Detail, "lacks ")
	}
	return k
}

// consistent checks that Pexip's compiled validator and the walk of its embedded schema agree.
func consistent(t *testing.T, subject string, c pexipcheck.Check, r pexipcheck.Result) {
	t.Helper()
	if !r.Compiled.Ran {
		return
	}
	var hard, unknown []string
	for _, d := range r.Diffs {
		if d.Kind == "unknown" {
			unknown = append(unknown, d.Path)
		} else {
			hard = append(hard, d.Path+" "+d.Kind)
		}
	}
	switch {
	case !r.Compiled.OK && len(hard) == 0:
		t.Errorf("%s: Pexip's validator refuses it (%s) but the schema walk finds nothing", subject, r.Compiled.First)
	case r.Compiled.OK && len(hard) > 0:
		t.Errorf("%s: Pexip's validator accepts it but the schema walk finds %v", subject, hard)
	}
	for _, p := range r.Compiled.Removed {
		if !slices.Contains(unknown, p) {
			t.Errorf("%s: Pexip's validator dropped %s, which the schema walk did not report", subject, p)
		}
	}
	if r.Compiled.OK && len(r.Compiled.Removed) != len(unknown) {
		t.Errorf("%s: Pexip's validator dropped %v, the schema walk found unknown %v", subject, r.Compiled.Removed, unknown)
	}
}

// buildChecks turns the recorded exchanges into checks, with a subject naming each (as pageWins
// keys do), and notes what the scenario covered.
func buildChecks(t *testing.T, xs []exchange) ([]pexipcheck.Check, []string, map[string]bool) {
	t.Helper()
	var checks []pexipcheck.Check
	var subjects []string
	covered := map[string]bool{}
	add := func(subject, validator, schema string, data []byte) {
		checks = append(checks, pexipcheck.Check{ID: fmt.Sprint(len(checks)), Validator: validator, Schema: schema, Data: data})
		subjects = append(subjects, subject)
	}
	for _, x := range xs {
		if strings.HasPrefix(x.Path, "/_sim") {
			continue
		}
		covered["answer "+x.Op] = true
		if x.Op == "events" && x.Status == http.StatusOK {
			for _, ev := range parseSSE(x.Body) {
				covered["event "+ev.Name] = true
				checkEvent(t, ev, add, covered)
			}
			continue
		}
		op, known := pexipOps[x.Op]
		if x.Op == "participant/calls" {
			var in struct {
				CallType string `json:"call_type"`
			}
			_ = json.Unmarshal(x.Req, &in)
			kind := "Webrtc"
			if strings.EqualFold(in.CallType, "RTMP") {
				kind = "Rtmp"
			}
			covered["answer "+x.Op+" "+strings.ToUpper(kind)] = true
			low := strings.ToLower(kind)
			op, known = pexipOp{"participant", "Calls" + kind + "Participant",
				map[int]string{200: "calls_" + low + "_participant/200", 403: "take_floor/403"},
				"calls_" + low + "_participant/Body"}, true
		}
		_, skipAll := unchecked[x.Op+" *"]
		_, skipThis := unchecked[fmt.Sprintf("%s %d", x.Op, x.Status)]
		if skipAll || skipThis {
			continue
		}
		schema, ok := op.answers[x.Status]
		if !known || !ok {
			t.Errorf("answer %s %d (%.200s): no Pexip definition mapped and not listed as unchecked", x.Op, x.Status, x.Body)
			continue
		}
		if !json.Valid(x.Body) {
			t.Errorf("answer %s %d is not JSON: %.200q", x.Op, x.Status, x.Body)
			continue
		}
		add(fmt.Sprintf("answer %s %d", x.Op, x.Status), fmt.Sprintf("%s/validate%s%d", op.area, op.stem, x.Status), schema, x.Body)
		if x.Status == http.StatusUnsupportedMediaType {
			continue // the body the test sent on purpose is not JSON
		}
		if len(bytes.TrimSpace(x.Req)) > 0 {
			if op.body == "" {
				t.Errorf("request %s: the client sent a body (%.200s) to a command that takes none", x.Op, x.Req)
				continue
			}
			add("request "+x.Op, op.area+"/validate"+op.stem+"Body", op.body, x.Req)
		}
	}
	return checks, subjects, covered
}

func checkEvent(t *testing.T, ev sseEvent, add func(subject, validator, schema string, data []byte), covered map[string]bool) {
	t.Helper()
	name := ev.Name
	if n := pexipEvent[name]; n != "" {
		name = n
	}
	if !slices.Contains(pexipEvents, name) {
		return // reported by name
	}
	subject := "event " + ev.Name
	var wrapped []byte
	validator := ""
	switch name {
	case "participant_create", "participant_update":
		validator = "conference/validateParticipants200"
		wrapped = []byte(`{"status":"success","result":[` + string(ev.Data) + `]}`)
	case "conference_update":
		validator = "conference/validateConferenceStatus200"
		wrapped = []byte(`{"status":"success","result":` + string(ev.Data) + `}`)
	case "disconnect":
		var d struct {
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		covered["reason "+d.Reason] = true
	}
	add(subject, "", "event/"+name, ev.Data)
	if validator != "" {
		// Pexip compiles no validator for events, but its participants and conference_status
		// answers carry the same objects: run the event through that one as well, so the
		// compiled validator and the schema walk are compared on events too. Its differences
		// are the event's own (less last_spoken_time), so only the event's are listed.
		schema := "participants/200"
		if name == "conference_update" {
			schema = "conference_status/200"
		}
		add(subject+compiledOnly+schema+")", validator, schema, wrapped)
	}
}

// compiledOnly marks the subject of a check made only to compare the compiled validator with the
// schema walk.
const compiledOnly = " (as "

// scenario is one room of one mode and the client driving it.
type scenario struct {
	t    *testing.T
	ctx  context.Context
	mode string
	s    *sim.Server
	rec  *recorder
	ts   *httptest.Server
	c    *meetings.Client
	room *sim.Room
	node string
}

func (sc *scenario) open(room, name, pin string) (*meetings.Session, error) {
	return sc.c.Open(sc.ctx, meetings.Room{Node: sc.node, Alias: room}, meetings.SessionOptions{DisplayName: name, PIN: pin, Hidden: true})
}

func (sc *scenario) must(what string, err error) {
	sc.t.Helper()
	if err != nil {
		sc.t.Fatalf("%s room, %s: %v", sc.mode, what, err)
	}
}

// publicOnly checks a command section 7 says only public nodes support: it succeeds in a public
// room and is refused in a private one.
func (sc *scenario) publicOnly(what string, err error) {
	sc.t.Helper()
	if private := sc.mode == "private"; (err == nil) == private {
		sc.t.Errorf("%s room: %s: %v", sc.mode, what, err)
	}
}

// listen runs s's event stream until ctx ends or a disconnect event arrives; the returned
// function waits for it to end.
func (sc *scenario) listen(s *meetings.Session) (wait func()) {
	ctx, cancel := context.WithCancel(sc.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Events(ctx, func(ev meetings.Event) {
			if _, ok := ev.(meetings.Disconnected); ok {
				cancel()
			}
		})
	}()
	return func() { cancel(); <-done }
}

func (sc *scenario) raw(method, room, op, token, contentType, body string) {
	req, _ := http.NewRequestWithContext(sc.ctx, method, sc.ts.URL+"/api/services/"+room+"/"+op, strings.NewReader(body))
	if token != "" {
		req.Header.Set("token", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := sc.ts.Client().Do(req)
	if err != nil {
		sc.t.Fatal(err)
	}
	resp.Body.Close()
}

// runScenario uses every endpoint and makes every event happen in one room of the mode, and
// returns what went over the wire.
func runScenario(ctx context.Context, t *testing.T, mode string) []exchange {
	t.Helper()
	s := sim.New(sim.Options{DialAnswerAfter: time.Millisecond, DialTimeout: 5 * time.Millisecond})
	rec := &recorder{h: s}
	ts := httptest.NewServer(rec)
	defer ts.Close()
	defer s.Close()
	c, err := meetings.NewClient(ts.URL, meetings.ClientOptions{ReconnectMin: time.Millisecond, ReconnectMax: 10 * time.Millisecond, RetryBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sim.RoomConfig{Number: "1061", Alias: "weekly@example.com", Name: "Weekly", HostPIN: "1234", GuestPIN: "5678",
		WaitForHost: true, Private: mode == "private", Rich: mode == "rich"}
	sc := &scenario{t: t, ctx: ctx, mode: mode, s: s, rec: rec, ts: ts, c: c, room: s.AddRoom(cfg), node: strings.TrimPrefix(ts.URL, "http://")}
	s.AddRoom(sim.RoomConfig{Number: "2000", Alias: "other@example.com", HostPIN: "9999"}) // transfer's target
	room := sc.room
	private := mode == "private"

	if _, err := c.CheckJoin(ctx, "1061", "1234", "meetbot"); err != nil {
		t.Fatal(err)
	}
	// new_session: refusals first, then the bot's host session.
	if _, err := sc.open("1061", "meetbot", ""); err == nil {
		t.Fatal("new_session without a PIN succeeded")
	}
	if _, err := sc.open("1061", "meetbot", "0000"); err == nil {
		t.Fatal("new_session with a wrong PIN succeeded")
	}
	if _, err := sc.open("9999", "meetbot", "1234"); err == nil {
		t.Fatal("new_session in an unknown room succeeded")
	}
	sc.raw(http.MethodPost, "1061", "new_session", "", "text/plain", "display_name=meetbot")
	sc.raw(http.MethodPost, "1061", "refresh_session", "not-a-token", "", "")
	sc.raw(http.MethodPost, "1061", "end_session", "not-a-token", "", "")

	host, err := sc.open("1061", "meetbot", "1234")
	sc.must("open", err)
	stopHost := sc.listen(host)
	sc.must("await stream", room.AwaitStreams(ctx, 1))
	guest, err := sc.open("1061", "guestbot", "5678")
	sc.must("open guest", err)

	ann := room.Join(sim.ParticipantSpec{Name: "Ann Lee"})
	ben := room.Join(sim.ParticipantSpec{Name: "Ben Okafor", Protocol: "sip"})
	recd := room.Join(sim.ParticipantSpec{Name: "Recorder", Protocol: "rtmp"})
	room.Join(sim.ParticipantSpec{Name: "Room 2", Protocol: "h323"})
	room.Join(sim.ParticipantSpec{Name: "Lync user", Protocol: "mssip"})
	if err := guest.Mute(ctx, ann); err == nil {
		t.Error("a guest muted someone")
	}
	st, err := host.Status(ctx)
	sc.must("status", err)
	if st.Started {
		t.Errorf("%s room: started before any host with media joined", mode)
	}
	room.Join(sim.ParticipantSpec{Name: "Cat Chair", Role: "chair"}) // starts the meeting

	sc.must("lock", host.Lock(ctx))
	sc.must("unlock", host.Unlock(ctx))
	sc.must("start_service", host.StartService(ctx))
	sc.must("muteguests", host.MuteGuests(ctx))
	sc.must("unmuteguests", host.UnmuteGuests(ctx))
	sc.must("message", host.SendMessage(ctx, "Hello from the bot"))
	_, err = host.Participants(ctx)
	sc.must("participants", err)
	sc.publicOnly("override_layout", host.OverrideLayout(ctx, meetings.LayoutOverride{Audience: "hosts", Layout: "1:7"},
		meetings.LayoutOverride{Layout: "2:21", Actors: []string{ann}}))
	_, err = host.Dial(ctx, meetings.DialRequest{Destination: "sip:dana@example.com", Protocol: "sip", Role: "guest", RemoteDisplayName: "Dana"})
	sc.must("dial sip", err)
	_, err = host.Dial(ctx, meetings.DialRequest{Destination: "noanswer@example.com", Protocol: "h323", Role: "chair"})
	sc.must("dial h323", err)
	if !private {
		_, err = host.Dial(ctx, meetings.DialRequest{Destination: "+8613800000000", Protocol: "phone", Role: "guest", CallType: "audio", DTMFSequence: "1#"})
		sc.must("dial phone", err)
		_, err = host.Dial(ctx, meetings.DialRequest{Destination: "rtmp://live.example.com/app/key", Protocol: "rtmp", Role: "guest", Streaming: true,
			KeepConferenceAlive: "keep_conference_alive_never", SourceDisplayName: "Weekly"})
		sc.must("dial rtmp", err)
	}
	for _, cmd := range []struct {
		name string
		fn   func(context.Context, string) error
	}{
		{"mute", host.Mute}, {"unmute", host.Unmute}, {"video mute", host.VideoMute}, {"video unmute", host.VideoUnmute},
		{"cancel delay", host.CancelDelay}, {"resume delay", host.ResumeDelay}, {"deny presentation", host.DenyPresentation},
		{"allow presentation", host.AllowPresentation},
	} {
		sc.must(cmd.name, cmd.fn(ctx, ann))
	}
	for _, cmd := range []struct {
		name string
		fn   func(context.Context, string) error
	}{{"spotlight on", host.SpotlightOn}, {"spotlight off", host.SpotlightOff}} {
		sc.publicOnly(cmd.name, cmd.fn(ctx, ann))
	}
	waiting := room.Join(sim.ParticipantSpec{Name: "Wanda", Waiting: true})
	sc.publicOnly("admit", host.Admit(ctx, waiting))
	sc.must("dtmf", host.SendDTMF(ctx, ben, "1234#"))
	sc.publicOnly("role", host.SetRole(ctx, ann, "chair"))
	call, err := host.AddCall(ctx, ann, meetings.CallRequest{CallType: "WEBRTC", SDP: "v=0\r\n"})
	sc.must("calls webrtc", err)
	sc.must("ack", host.AckCall(ctx, ann, call.CallUUID))
	sc.must("call disconnect", host.DisconnectCall(ctx, ann, call.CallUUID))
	_, err = host.AddCall(ctx, recd, meetings.CallRequest{CallType: "RTMP", Streaming: true})
	sc.must("calls rtmp", err)

	// Events the people in the room cause.
	room.Present(ann, true)
	room.Frame()
	if !private {
		_, err = host.PresentationJPEG(ctx, "1")
		sc.must("presentation.jpeg", err)
	} else {
		_, _ = host.PresentationJPEG(ctx, "1")
	}
	room.RevokePresentation()
	room.Present(ben, true)
	room.Present(ben, false)
	room.Speak(ann)
	room.Speak(ben)
	room.Chat(ann, "hi all")
	room.Message(ann, "application/json", `{"type":"reaction","emoji":"👍"}`, "")
	room.Message(ann, "text/plain", "psst, bot", host.Info().ParticipantUUID)
	room.SetUnsupported(ben, sim.Unsupported{Mute: true, Disconnect: true, Transfer: true})
	if err := host.Mute(ctx, ben); err == nil {
		t.Errorf("%s room: the node muted someone whose mute_supported is NO", mode)
	}
	room.RequestRefresh()
	room.ByeStreams()
	sc.must("await stream after bye", room.AwaitStreams(ctx, 1))
	sc.publicOnly("transfer", host.Transfer(ctx, ann, meetings.TransferRequest{Room: "other@example.com", PIN: "9999", Role: "chair"}))
	sc.must("kick", host.Kick(ctx, recd))

	// The three disconnect reasons: an API kick, an administrator, a host ending the meeting.
	for _, how := range []string{"kick", "admin"} {
		v, err := sc.open("1061", "victim-"+how, "1234")
		sc.must("open "+how, err)
		wait := sc.listen(v)
		sc.must("await stream", room.AwaitStreams(ctx, 2))
		if how == "kick" {
			sc.must("kick a session", host.Kick(ctx, v.Info().ParticipantUUID))
		} else {
			room.AdminDisconnect(v.Info().ParticipantUUID)
		}
		wait()
		_ = v.Close(ctx)
	}
	sc.must("end guest", guest.Close(ctx))
	sc.must("disconnect all", host.DisconnectAll(ctx))
	stopHost()
	_ = host.Close(ctx)

	s.Close()
	ts.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.xs)
}
