package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/meetbot/meetbot/chat"
)

// Platform is the ChannelRef.Platform of every channel this adapter mints.
const Platform = "slack"

// Config is what the adapter needs from settings.
type Config struct {
	// BotToken is the bot's xoxb- token (SLACK_BOT_TOKEN). Required.
	BotToken chat.Secret
	// SigningSecret verifies inbound HTTP requests (SLACK_SIGNING_SECRET). Required unless
	// AppToken is set (Socket Mode needs no public endpoint).
	SigningSecret chat.Secret
	// AppToken is the xapp- app-level token (SLACK_APP_TOKEN); when set, Run connects with
	// Socket Mode.
	AppToken chat.Secret
	// Hosts lists user ids (U…, W…) and user-group ids (S…) with host rights (SLACK_HOSTS).
	Hosts []string
	// APIURL points the Web API elsewhere (SLACK_API_URL, tests); "" is Slack's own.
	APIURL string
	// HTTPClient makes Web API and response_url requests; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the clock for caches, meeting durations and the signature window; nil means
	// time.Now.
	Now func() time.Time
	// Replay remembers signed requests already run; nil means an in-memory guard of this
	// process. With several replicas, pass the shared store.
	Replay ReplayGuard
	// MaxUnverifiedReads bounds how many small request bodies are read at once before their
	// signature is checked (SLACK_MAX_UNVERIFIED_READS); 0 means DefaultMaxUnverifiedReads.
	// A 256th as many (at least 4) large or unsized bodies may be read besides, and all of
	// them together hold at most 8 KiB per slot of memory (32 MiB by default).
	MaxUnverifiedReads int
	// Refused, when set, is told of every request to /slack/* that was refused, by endpoint and
	// status (metrics: a flood shows there, while the log says it once every few seconds).
	Refused func(endpoint string, status int)
	// Home, when set, gives the App Home tab its meetings (app_home_opened → views.publish);
	// nil leaves the Home tab empty.
	Home HomeSource
}

// Adapter connects meetbot to one Slack workspace install. It implements chat.Poster and
// chat.RightsResolver. Create it with New.
type Adapter struct {
	cfg    Config
	h      chat.Handler
	log    *slog.Logger
	api    *slackgo.Client
	httpc  *http.Client
	now    func() time.Time
	rights *rightsCache
	replay ReplayGuard
	gate   *readGate
	logs   *logGate
	// apiBase is the Web API's base URL, ending in "/".
	apiBase string
	// probed is closed once the token's scopes are known (or Run gave up asking).
	probed chan struct{}
	// members caches channel memberships for the Home tab.
	members *memberCache

	// callGap is the least time between two Calls API roster requests of one call.
	callGap time.Duration

	// statusGap is the least time between two edits of one status message.
	statusGap time.Duration
	// workTimeout bounds one command run in the background.
	workTimeout time.Duration
	// bodyTimeout bounds the reading of one request body before its signature is checked.
	bodyTimeout time.Duration

	base   context.Context
	cancel context.CancelFunc
	work   sync.WaitGroup

	mu       sync.Mutex
	gone     map[string]string        // team id → why the workspace stopped (uninstalled, token revoked)
	channels map[string]*channelState // ChannelRef.String() → threaded status
	surf     surfaces                 // what the token allows (probe)
}

// Interface conformance.
var (
	_ chat.Poster         = (*Adapter)(nil)
	_ chat.RightsResolver = (*Adapter)(nil)
)

// New checks cfg and returns an adapter that hands commands to h. It makes no network calls.
func New(cfg Config, h chat.Handler, logger *slog.Logger) (*Adapter, error) {
	if h == nil {
		return nil, errors.New("slack adapter: nil handler")
	}
	if cfg.BotToken == "" {
		return nil, errors.New("slack adapter: SLACK_BOT_TOKEN is empty")
	}
	if cfg.SigningSecret == "" && cfg.AppToken == "" {
		return nil, errors.New("slack adapter: set SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode)")
	}
	if cfg.AppToken != "" && !strings.HasPrefix(cfg.AppToken.Reveal(), "xapp-") {
		return nil, errors.New("slack adapter: SLACK_APP_TOKEN must be an app-level token (xapp-…)")
	}
	for _, id := range cfg.Hosts {
		if id == "" || strings.ContainsAny(id, " ,<>@") {
			return nil, fmt.Errorf("slack adapter: SLACK_HOSTS entry %q is not a user or user-group id", id)
		}
	}
	if cfg.MaxUnverifiedReads < 0 {
		return nil, fmt.Errorf("slack adapter: SLACK_MAX_UNVERIFIED_READS must not be negative")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	httpc := cfg.HTTPClient
	if httpc == nil {
		httpc = &http.Client{Timeout: 30 * time.Second}
	}
	opts := []slackgo.Option{slackgo.OptionHTTPClient(httpc)}
	apiBase := slackgo.APIURL
	if cfg.APIURL != "" {
		u := cfg.APIURL
		if !strings.HasSuffix(u, "/") {
			u += "/"
		}
		opts = append(opts, slackgo.OptionAPIURL(u))
		apiBase = u
	}
	if cfg.AppToken != "" {
		opts = append(opts, slackgo.OptionAppLevelToken(cfg.AppToken.Reveal()))
	}
	// No OptionRetry: a retry inside the client could post a message twice. The relay retries.
	api := slackgo.New(cfg.BotToken.Reveal(), opts...)

	base, cancel := context.WithCancel(context.Background())
	a := &Adapter{
		cfg:         cfg,
		h:           h,
		log:         logger.With("adapter", Platform),
		api:         api,
		httpc:       httpc,
		now:         cfg.Now,
		replay:      cfg.Replay,
		gate:        newReadGate(cfg.MaxUnverifiedReads),
		logs:        newLogGate(10 * time.Second),
		apiBase:     apiBase,
		probed:      make(chan struct{}),
		callGap:     3 * time.Second, // the Calls API methods are Slack's Tier 2: about 20 a minute
		statusGap:   2 * time.Second,
		workTimeout: 2 * time.Minute,
		bodyTimeout: bodyTimeout,
		base:        base,
		cancel:      cancel,
		gone:        map[string]string{},
		channels:    map[string]*channelState{},
	}
	if a.replay == nil {
		a.replay = newMemoryNonces(cfg.Now, 1<<16)
	}
	a.rights = newRightsCache(api, cfg.Hosts, cfg.Now, 5*time.Minute)
	a.members = newMemberCache(api, cfg.Now, time.Minute)
	return a, nil
}

// Register adds the adapter's endpoints to mux: POST /slack/commands (slash commands),
// /slack/interactions (buttons) and /slack/events (url_verification, app_uninstalled,
// tokens_revoked).
func (a *Adapter) Register(mux *http.ServeMux) {
	mux.Handle("POST /slack/commands", a.verified(maxCommandBody, a.serveCommand))
	mux.Handle("POST /slack/interactions", a.verified(maxInteractionBody, a.serveInteraction))
	mux.Handle("POST /slack/events", a.verified(maxEventBody, a.serveEvent))
}

// Run serves Socket Mode when Config.AppToken is set, reconnecting as Slack asks, and otherwise
// waits for ctx. Either way, when ctx is done it lets commands in flight finish (for a short
// grace), stops background work and returns nil. It returns an error when Socket Mode cannot
// authenticate.
func (a *Adapter) Run(ctx context.Context) error {
	defer a.shutdown()
	pctx, stopProbe := context.WithCancel(a.base)
	defer context.AfterFunc(ctx, stopProbe)()
	a.work.Add(1)
	go func() {
		defer a.work.Done()
		a.probe(pctx)
	}()
	if a.cfg.AppToken == "" {
		<-ctx.Done()
		return nil
	}
	return a.runSocket(ctx)
}

// shutdown waits a little for background commands, then cancels what is left and waits for it.
func (a *Adapter) shutdown() {
	done := make(chan struct{})
	go func() { a.work.Wait(); close(done) }()
	select {
	case <-done:
		a.cancel()
		return
	case <-time.After(5 * time.Second):
	}
	a.cancel()
	<-done
}

// goWork runs f in the background under the adapter's lifetime, with a time bound.
func (a *Adapter) goWork(f func(ctx context.Context)) {
	a.work.Add(1)
	go func() {
		defer a.work.Done()
		ctx, cancel := context.WithTimeout(a.base, a.workTimeout)
		defer cancel()
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("panic in background work", "panic", p)
			}
		}()
		f(ctx)
	}()
}

// markGone stops work for a workspace: its commands answer that the app was removed and Post
// returns chat.ErrChannelGone for its channels.
func (a *Adapter) markGone(team, why string) {
	if team == "" {
		return
	}
	a.mu.Lock()
	_, already := a.gone[team]
	if !already {
		a.gone[team] = why
	}
	for k, st := range a.channels {
		if st.team == team {
			delete(a.channels, k)
		}
	}
	a.mu.Unlock()
	if !already {
		a.log.Info("workspace stopped", "team", team, "why", why)
	}
}

// teamGone reports whether work for team has stopped.
func (a *Adapter) teamGone(team string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.gone[team]
	return ok
}
