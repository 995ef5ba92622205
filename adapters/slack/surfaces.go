package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// The native surfaces and the scopes they need. Slack reports a token's scopes in the
// x-oauth-scopes header of every Web API answer; auth.test is the cheap one to read at start.
const (
	scopeCallsWrite = "calls:write" // calls.add, calls.participants.*, calls.end: the call card
)

// surfaces is what the token allows, read once at start.
type surfaces struct {
	known  bool     // auth.test answered
	scopes []string // from x-oauth-scopes
	botID  string   // the bot's own user id (calls.add created_by)
}

func (s surfaces) has(scope string) bool { return slices.Contains(s.scopes, scope) }

// probe reads the token's scopes and the bot's user id with auth.test, retrying with backoff
// until it answers or ctx ends, and logs which native surfaces are on. Until it has answered,
// the call card is off and channels get the status message.
func (a *Adapter) probe(ctx context.Context) {
	defer close(a.probed)
	wait := time.Second
	for {
		s, err := a.authTest(ctx)
		if err == nil {
			a.mu.Lock()
			a.surf = s
			a.mu.Unlock()
			calls := "off: the token lacks calls:write (reinstall the app with the updated manifest)"
			if s.has(scopeCallsWrite) {
				calls = "on where MEET_JOIN_URL gives a join page"
			}
			a.log.Info("slack surfaces", "call_cards", calls, "home_tab", a.cfg.Home != nil,
				"waiting_room_alerts", true, "scopes", strings.Join(s.scopes, ","))
			return
		}
		a.log.Warn("auth.test failed; call cards stay off until it answers", "err", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, time.Minute)
	}
}

// authTest calls auth.test itself, as slack-go does not expose the answer's headers.
func (a *Adapter) authTest(ctx context.Context) (surfaces, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.apiBase+"auth.test", strings.NewReader(""))
	if err != nil {
		return surfaces{}, fmt.Errorf("auth.test: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+a.cfg.BotToken.Reveal())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := a.httpc.Do(req)
	if err != nil {
		return surfaces{}, fmt.Errorf("auth.test: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		OK     bool   `json:"ok"`
		Error  string `json:"error"`
		UserID string `json:"user_id"`
	}
	if resp.StatusCode != http.StatusOK {
		return surfaces{}, fmt.Errorf("auth.test: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&body); err != nil {
		return surfaces{}, fmt.Errorf("auth.test: %w", err)
	}
	if !body.OK {
		return surfaces{}, fmt.Errorf("auth.test: %s", body.Error)
	}
	var scopes []string
	for _, s := range strings.Split(resp.Header.Get("X-Oauth-Scopes"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			scopes = append(scopes, s)
		}
	}
	return surfaces{known: true, scopes: scopes, botID: body.UserID}, nil
}

// surfaceSet returns what the token allows as far as known.
func (a *Adapter) surfaceSet() surfaces {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.surf
}
