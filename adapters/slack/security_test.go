package slack

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store/sqlite"
)

// rawRequest opens a connection to srv and writes a POST to path with the given headers and
// first body bytes, leaving the connection open so the test decides what else is sent.
func rawRequest(t *testing.T, srv *httptest.Server, path string, header http.Header, contentLength int64, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// A bound on the test, not a measurement: a correct server answers at once.
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: slack.test\r\nContent-Type: application/x-www-form-urlencoded\r\n", path)
	if contentLength >= 0 {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", contentLength)
	} else {
		b.WriteString("Transfer-Encoding: chunked\r\n")
	}
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// readStatus reads the response to a raw request.
func readStatus(t *testing.T, br *bufio.Reader) int {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// wellFormed returns signature headers that look right, with a fresh timestamp, but sign nothing.
func wellFormed(now time.Time) http.Header {
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("X-Slack-Signature", "v0="+strings.Repeat("ab", 32))
	return h
}

// TestRefusedBeforeBodyIsRead: a request without well-formed, fresh signature headers, or one
// that declares a body larger than the endpoint takes, is answered while its body has not been
// sent at all. Before, the bot read up to 1 MiB of every request before looking at its headers,
// so 300 slow senders held 300 MiB.
func TestRefusedBeforeBodyIsRead(t *testing.T) {
	f := newFakeSlack(t)
	rec := &recorder{}
	_, srv := newTestAdapter(t, f, rec)
	now := time.Now()
	header := func(sig, ts string) http.Header {
		h := http.Header{}
		if sig != "" {
			h.Set("X-Slack-Signature", sig)
		}
		if ts != "" {
			h.Set("X-Slack-Request-Timestamp", ts)
		}
		return h
	}
	fresh := strconv.FormatInt(now.Unix(), 10)
	good := "v0=" + strings.Repeat("0f", 32)
	cases := []struct {
		name   string
		path   string
		header http.Header
		length int64
		want   int
	}{
		{"NoHeaders", "/slack/commands", header("", ""), 1000, 401},
		{"NoTimestamp", "/slack/commands", header(good, ""), 1000, 401},
		{"ShortSignature", "/slack/commands", header("v0=abc", fresh), 1000, 401},
		{"NotHex", "/slack/interactions", header("v0="+strings.Repeat("zz", 32), fresh), 1000, 401},
		{"OtherVersion", "/slack/events", header("v1="+strings.Repeat("0f", 32), fresh), 1000, 401},
		{"StaleTimestamp", "/slack/commands", header(good, strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)), 1000, 401},
		{"FutureTimestamp", "/slack/commands", header(good, strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10)), 1000, 401},
		{"TimestampNotANumber", "/slack/commands", header(good, "1e9"), 1000, 401},
		{"MiBToCommands", "/slack/commands", header(good, fresh), 1 << 20, 413},
		{"MiBToEvents", "/slack/events", header(good, fresh), 1 << 20, 413},
		{"TwoMiBToInteractions", "/slack/interactions", header(good, fresh), 2 << 20, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, br := rawRequest(t, srv, tc.path, tc.header, tc.length, "")
			if got := readStatus(t, br); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
			// The connection is closed, so the server reads none of the body either.
			if _, err := br.ReadByte(); err == nil {
				t.Error("connection left open after a refusal")
			}
			conn.Close()
		})
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("refused requests reached the command core %d times", n)
	}
}

// TestOversizedSignedBodyRefused: a properly signed 1 MiB slash command sent without a declared
// length (chunked) is cut off at the endpoint's limit and runs nothing.
func TestOversizedSignedBodyRefused(t *testing.T) {
	f := newFakeSlack(t)
	rec := &recorder{}
	_, srv := newTestAdapter(t, f, rec)
	body := slashBodyFor(f, "help") + "&pad=" + strings.Repeat("x", 1<<20)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/slack/commands", struct{ *strings.Reader }{strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sign(req, testSecret, time.Now(), body)
	if req.ContentLength != 0 && req.ContentLength != -1 {
		t.Fatalf("request declares %d bytes; the test wants an unsized body", req.ContentLength)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// The server may close before the client has written everything; that is a refusal too.
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Fatal(err)
		}
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", resp.StatusCode)
		}
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("an oversized command reached the command core %d times", n)
	}
}

// TestSlowBodiesAreBounded: bodies read before verification take one of a bounded number of
// slots; when every slot is held by a slow sender the next request is refused at once with 503
// (it does not queue), a slow body is cut off after the body timeout, and once the slots are
// free again a signed command runs.
func TestSlowBodiesAreBounded(t *testing.T) {
	f := newFakeSlack(t)
	f.users["U1"] = map[string]any{"id": "U1"}
	rec := &recorder{}
	a, srv := newTestAdapter(t, f, rec, func(c *Config) { c.MaxUnverifiedReads = 3 })
	a.bodyTimeout = time.Hour // the slow senders below hold their slots until they hang up

	var slow []net.Conn
	for range 3 {
		conn, _ := rawRequest(t, srv, "/slack/commands", wellFormed(time.Now()), 100, "text=he")
		slow = append(slow, conn)
	}
	// Each slow sender's headers reach the handler in its own time: wait until all three hold
	// their slot, which the next request sees as a 503.
	// Probes sent before all three hold their slot are acknowledged and run; only those refused
	// with 503 must never run.
	accepted := 0
	eventually(t, "every read slot taken", func() bool {
		code := post(t, srv.URL+"/slack/commands", testSecret, time.Now(), slashBodyFor(f, "who"))
		if code == http.StatusOK {
			accepted++
		}
		return code == http.StatusServiceUnavailable
	})
	for _, c := range slow {
		c.Close()
	}
	eventually(t, "a slot free again", func() bool {
		return post(t, srv.URL+"/slack/commands", testSecret, time.Now(), slashBodyFor(f, "help")) == http.StatusOK
	})
	ran := func() (who, help int) {
		for _, r := range rec.requests() {
			switch r.Text {
			case "who":
				who++
			case "help":
				help++
			}
		}
		return
	}
	// A refused request never reaches the core, so once the acknowledged ones have run, no
	// more can.
	eventually(t, "the acknowledged commands ran", func() bool { who, help := ran(); return who >= accepted && help == 1 })
	if who, _ := ran(); who != accepted {
		t.Errorf("%d who commands ran, but only %d were acknowledged: a command refused with 503 ran", who, accepted)
	}

	t.Run("BodyTimeout", func(t *testing.T) {
		a.bodyTimeout = 50 * time.Millisecond
		_, br := rawRequest(t, srv, "/slack/commands", wellFormed(time.Now()), 100, "text=he")
		if got := readStatus(t, br); got != http.StatusRequestTimeout {
			t.Errorf("slow body: status %d, want 408", got)
		}
	})
}

// TestUnverifiedBytesAreBudgeted: what unverified bodies hold is drawn from one budget as the
// bytes arrive; a sender that pushes more than the budget before finishing its body is refused
// with 503 at once rather than read on.
func TestUnverifiedBytesAreBudgeted(t *testing.T) {
	f := newFakeSlack(t)
	rec := &recorder{}
	a, srv := newTestAdapter(t, f, rec, func(c *Config) { c.MaxUnverifiedReads = 1 }) // 8 KiB
	a.bodyTimeout = time.Hour
	chunk := strings.Repeat("x", 6<<10)
	_, br := rawRequest(t, srv, "/slack/interactions", wellFormed(time.Now()), -1, fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk))
	if got := readStatus(t, br); got != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", got)
	}
	if left := a.gate.budget.Load(); left != 8<<10 {
		t.Errorf("budget %d after the refusal, want all 8 KiB back", left)
	}
}

// TestReplayWithOtherCase: the replay guard keys on the decoded signature, so the same request
// with its signature in upper-case hex is a replay. Before, the cache keyed on the header's text
// and the same command ran again.
func TestReplayWithOtherCase(t *testing.T) {
	f := newFakeSlack(t)
	f.users["U1"] = map[string]any{"id": "U1"}
	rec := &recorder{}
	_, srv := newTestAdapter(t, f, rec)
	body := slashBodyFor(f, "end confirm")
	now := time.Now()
	send := func(transform func(string) string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/slack/commands", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sign(req, testSecret, now, body)
		req.Header.Set("X-Slack-Signature", transform(req.Header.Get("X-Slack-Signature")))
		return do(t, req)
	}
	if got := send(func(s string) string { return s }); got != http.StatusOK {
		t.Fatalf("first request: status %d", got)
	}
	f.nextWebhook(t)
	upper := func(s string) string { return "v0=" + strings.ToUpper(strings.TrimPrefix(s, "v0=")) }
	mixed := func(s string) string {
		b := []byte(s)
		for i := 3; i < len(b); i += 2 {
			b[i] = strings.ToUpper(string(b[i]))[0]
		}
		return string(b)
	}
	for name, tr := range map[string]func(string) string{"Upper": upper, "Mixed": mixed} {
		if got := send(tr); got != http.StatusUnauthorized {
			t.Errorf("%s-case replay: status %d, want 401", name, got)
		}
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("the command ran %d times, want once", n)
	}
}

// TestReplayGuardStoreClosedRefuses: when the replay guard cannot answer (here a SQLite store
// whose database is closed), a signed command is refused with 503 and does not run.
func TestReplayGuardStoreClosedRefuses(t *testing.T) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "bot.db"), make([]byte, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	f := newFakeSlack(t)
	rec := &recorder{}
	_, srv := newTestAdapter(t, f, rec, func(c *Config) { c.Replay = db })
	if got := post(t, srv.URL+"/slack/commands", testSecret, time.Now(), slashBodyFor(f, "end confirm")); got != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", got)
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("the command ran %d times without a replay check", n)
	}
}

// TestMemoryNoncesExpireAndBound: the in-memory guard forgets a nonce after its ttl and refuses
// (rather than forgets a live nonce) when full.
func TestMemoryNoncesExpireAndBound(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m := newMemoryNonces(func() time.Time { return now }, 2)
	ctx := context.Background()
	claim := func(k string) (bool, error) { return m.ClaimNonce(ctx, k, time.Minute) }
	if ok, err := claim("a"); !ok || err != nil {
		t.Fatalf("first claim of a = %v, %v", ok, err)
	}
	if ok, err := claim("a"); ok || err != nil {
		t.Errorf("second claim of a = %v, %v; want a replay", ok, err)
	}
	if ok, _ := claim("b"); !ok {
		t.Error("first claim of b refused")
	}
	if _, err := claim("c"); !errors.Is(err, ErrReplayCacheFull) {
		t.Errorf("claim past the bound: err %v, want ErrReplayCacheFull", err)
	}
	now = now.Add(time.Minute)
	if ok, err := claim("a"); !ok || err != nil {
		t.Errorf("claim of a after its ttl = %v, %v; want fresh", ok, err)
	}
	if len(m.until) != 1 {
		t.Errorf("%d nonces kept, want the expired ones forgotten", len(m.until))
	}
}

// TestLargestPressFits: a press on the largest message the renderer makes (a full who table)
// fits the interactions endpoint's body limit with room to spare for what Slack adds to it.
func TestLargestPressFits(t *testing.T) {
	tab := &chat.Table{Columns: []string{"Name", "Role", "Muted"}}
	for i := range 200 {
		tab.Rows = append(tab.Rows, chat.Row{Cells: []string{strings.Repeat("Ñ&<", 17) + strconv.Itoa(i), "guest", "yes"},
			Actions: []chat.Action{
				{Label: "Unmute", Command: "unmute 1a2b3c4d-" + strconv.Itoa(i)},
				{Label: "Kick", Command: "kick 1a2b3c4d-" + strconv.Itoa(i), Danger: true}}})
	}
	m := renderReply(chat.Reply{Text: strings.Repeat("x", 2900), Table: tab}, replyOptions{Source: "who"})
	blocks, err := jsonString(m.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	payload := `{"type":"block_actions","message":{"text":` + strconv.Quote(m.Text) + `,"blocks":` + blocks + `}}`
	size := len(interactionBody(payload))
	if size*2 > maxInteractionBody {
		t.Errorf("a press on the largest message is %d bytes; the %d-byte limit leaves too little room", size, maxInteractionBody)
	}
	t.Logf("largest press: %d bytes of %d", size, maxInteractionBody)
}

func jsonString(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
