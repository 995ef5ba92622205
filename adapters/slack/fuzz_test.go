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
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/meetbot/meetbot/chat"
)

// FuzzInbound feeds any body through the parsing path of slash commands, interactions and events,
// and the rendering of whatever text comes out: nothing may panic, a parsed request must carry
// what an answer needs, and rendered text must hold no raw '<'.
func FuzzInbound(f *testing.F) {
	fs := &fakeSlack{responseURLBase: "https://hooks.slack.test/"}
	f.Add(slashBodyFor(fs, "mute Bob"))
	f.Add(interactionBody(pressPayloadFor(fs, "mb|r|0|who", "mute 3f2a")))
	f.Add(interactionBody(`{"type":"block_actions","actions":[null]}`))
	f.Add(interactionBody(`{"type":"block_actions","actions":[{"type":"button","block_id":"mb|c","value":"x"}]}`))
	f.Add(`{"type":"event_callback","team_id":"T1","event":{"type":"tokens_revoked","tokens":{"bot":["U1"]}}}`)
	f.Add(`{"type":"url_verification","challenge":"c"}`)
	f.Add(`{"type":"event_callback","team_id":"T1","event":{"type":"app_home_opened","user":"U1","tab":"home"}}`)
	f.Add(interactionBody(pressPayloadFor(fs, "mb|w|0", "admit id:b1")))
	f.Add("payload=%7B%22type%22%3A1%7D")
	f.Add("text=%ZZ&&&=")
	a, err := New(Config{BotToken: "xoxb-fuzz", SigningSecret: "s", APIURL: "http://127.0.0.1:1/api/"}, chat.HandlerFunc(func(context.Context, chat.Request) chat.Reply {
		return chat.Reply{}
	}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cmd, err := slackgo.SlashCommandParse(req); err == nil {
			if inv, ok := commandInvocation(cmd, req.PostForm.Get("thread_ts")); ok {
				if inv.Text == "" || inv.ResponseURL == "" || inv.Channel.Channel == "" {
					t.Errorf("accepted an unanswerable command %+v", inv)
				}
				checkRendered(t, renderReply(chat.Reply{Text: inv.Text, Public: true}, replyOptions{Requester: "U1", Source: inv.Text}))
			}
		}
		req = httptest.NewRequest(http.MethodPost, "/slack/interactions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if ic, err := slackgo.InteractionCallbackParse(req); err == nil {
			if p, ok := interactionPress(ic); ok {
				if p.Text == "" || p.ResponseURL == "" || p.User.ID == "" {
					t.Errorf("accepted an unanswerable press %+v", p)
				}
				checkRendered(t, renderReply(chat.Reply{Text: p.Text, Choices: []chat.Action{{Label: p.Text, Command: p.Source}}},
					replyOptions{Source: p.Source}))
			}
		}
		if ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken()); err == nil {
			a.handleEvent(ev)
		}
		parseBlockID(body)
	})
}

// checkRendered fails when rendered mrkdwn holds a raw '<' other than our own mention.
func checkRendered(t *testing.T, m message) {
	t.Helper()
	text := strings.TrimPrefix(m.Text, "<@U1> ")
	if strings.Contains(text, "<") {
		t.Errorf("unescaped '<' in %q", m.Text)
	}
	if _, err := json.Marshal(m.Blocks); err != nil {
		t.Errorf("blocks do not encode: %v", err)
	}
}

// BenchmarkRenderWho renders a who list of 300 participants with buttons.
func BenchmarkRenderWho(b *testing.B) {
	tab := &chat.Table{Columns: []string{"Name", "Role", "Muted"}}
	for i := range 300 {
		tab.Rows = append(tab.Rows, chat.Row{Cells: []string{"Participant <" + strings.Repeat("x", i%20) + ">", "guest", "yes"},
			Actions: []chat.Action{{Label: "Unmute", Command: "unmute 1234"}, {Label: "Kick", Command: "kick 1234", Danger: true}}})
	}
	r := chat.Reply{Text: "300 in the meeting", Table: tab}
	b.ReportAllocs()
	for b.Loop() {
		m := renderReply(r, replyOptions{Source: "who"})
		if _, err := json.Marshal(m.Blocks); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignedCommand measures a signed slash command through the HTTP handler up to the ack
// (verification, replay check, parsing); the command itself runs in the background.
func BenchmarkSignedCommand(b *testing.B) {
	a, err := New(Config{BotToken: "xoxb-bench", SigningSecret: testSecret, APIURL: "http://127.0.0.1:1/api/"},
		chat.HandlerFunc(func(context.Context, chat.Request) chat.Reply { return chat.Reply{} }),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	a.markGone(testTeam, "benchmark: answer without lookups")
	mux := http.NewServeMux()
	a.Register(mux)
	fs := &fakeSlack{responseURLBase: "http://127.0.0.1:1/"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		body := slashBodyFor(fs, "mute Bob") + "&trigger_id=" + time.Now().String() + string(rune('a'+i%26))
		req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sign(req, testSecret, time.Now(), body)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	b.StopTimer()
	a.work.Wait()
}

// FuzzSignatureHeaders feeds any pair of signature headers to the check that runs before a body
// is read: nothing may panic; what it accepts is "v0=" and 64 hex digits with a decimal timestamp
// inside the window; and the replay key does not depend on the hex digits' case.
func FuzzSignatureHeaders(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	f.Add("v0="+strings.Repeat("aB", 32), "1700000000")
	f.Add("v0="+strings.Repeat("0", 64), "1699999700")
	f.Add("v0="+strings.Repeat("0", 63), "1700000000")
	f.Add("v0=zz", "-1")
	f.Add("V0="+strings.Repeat("f", 64), "+1700000000")
	f.Add("", "99999999999999999999")
	f.Fuzz(func(t *testing.T, sig, ts string) {
		sh, err := parseSignature(sig, ts, now)
		if err != nil {
			return
		}
		if len(sig) != 67 || !strings.HasPrefix(sig, "v0=") {
			t.Errorf("accepted signature %q", sig)
		}
		secs, perr := strconv.ParseInt(ts, 10, 64)
		if perr != nil || strings.TrimLeft(ts, "0123456789") != "" {
			t.Errorf("accepted timestamp %q", ts)
		}
		if d := now.Sub(time.Unix(secs, 0)); d > signatureWindow || d < -signatureWindow {
			t.Errorf("accepted timestamp %q outside the window", ts)
		}
		for _, other := range []string{"v0=" + strings.ToUpper(sig[3:]), "v0=" + strings.ToLower(sig[3:])} {
			o, err := parseSignature(other, ts, now)
			if err != nil || o.nonce() != sh.nonce() {
				t.Errorf("%q and %q give different replay keys (%v)", sig, other, err)
			}
		}
		if sh.verify("secret", []byte("body")) != (sig == "v0="+hexMAC("secret", ts, "body")) {
			t.Errorf("verify disagrees with HMAC-SHA256 for %q", sig)
		}
	})
}

func hexMAC(secret, ts, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:%s", ts, body)
	return hex.EncodeToString(m.Sum(nil))
}

// FuzzNameRendering: whatever a display name or chat message holds, nameText makes one inert
// line of it and plainText inert lines, one per line break given: no markup, no control
// character, no formatting character touching text, no quote at a line's start, and every & the
// start of an entity.
func FuzzNameRendering(f *testing.F) {
	for _, n := range hostileNames {
		f.Add(n)
	}
	f.Add("a\u2028b\u0085c\r\nd")
	f.Add("&amp;&&;<>")
	f.Fuzz(func(t *testing.T, s string) {
		checkInertLine(t, "nameText", nameText(s))
		checkEntities(t, nameText(s))
		out := plainText(s)
		if want := strings.Count(controlsOut(s), "\n") + 1; strings.Count(out, "\n")+1 != want {
			t.Errorf("plainText(%q) has %d lines, want %d", s, strings.Count(out, "\n")+1, want)
		}
		for _, line := range strings.Split(out, "\n") {
			checkInertLine(t, "plainText line", line)
			checkEntities(t, line)
			if l := strings.TrimLeft(line, " "); strings.HasPrefix(l, "&gt;") || strings.HasPrefix(l, "＞") {
				t.Errorf("plainText(%q) line %q starts a quote", s, line)
			}
		}
	})
}

func checkEntities(t *testing.T, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if s[i] != '&' {
			continue
		}
		rest := s[i:]
		if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
			t.Errorf("%q: a bare & at %d", s, i)
		}
	}
}

// BenchmarkRefusedWrongSignature measures what one flood request with well-formed headers and a
// wrong signature costs the bot: read slot, budgeted read of a 1 KiB body, HMAC, refusal.
func BenchmarkRefusedWrongSignature(b *testing.B) {
	a, err := New(Config{BotToken: "xoxb-bench", SigningSecret: testSecret, APIURL: "http://127.0.0.1:1/api/"},
		chat.HandlerFunc(func(context.Context, chat.Request) chat.Reply { return chat.Reply{} }),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	body := strings.Repeat("x", 1<<10)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
		req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
		req.Header.Set("X-Slack-Signature", "v0="+strings.Repeat("ab", 32))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized {
			b.Fatalf("status %d", w.Code)
		}
	}
}
