package meetings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ClientOptions configures a Client. The zero value is usable.
type ClientOptions struct {
	// HTTPClient serves ordinary requests; nil means one with a 30 s timeout. Give it a Timeout:
	// a request in flight delays the next token refresh until it ends. Event streams use a copy
	// of it without Timeout (bounded by their context and the idle watchdog) and, when its
	// Transport is an *http.Transport, a clone of that transport with small buffers.
	HTTPClient *http.Client
	// Logger receives Warn lines for what will be retried; nil discards.
	Logger *slog.Logger
	// Retries bounds the retries of transient failures: HTTP 5xx, 408 and 429 for every command,
	// network errors only for commands that are safe to repeat (not new_session, dial, message,
	// dtmf, transfer or calls). 0 means 3, negative means none.
	Retries int
	// Observer, if set, is told about every request, token refresh and stream reconnection.
	Observer Observer
	// IdleTimeout is how long an event stream may stay silent (no event, no keep-alive comment)
	// before it is dropped and reopened; 0 means 45 s.
	IdleTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the event stream's exponential reconnect backoff;
	// 0 means 250 ms and 30 s.
	ReconnectMin, ReconnectMax time.Duration
	// RetryBackoff is the first pause between retries of a transient failure, doubled each time;
	// 0 means 200 ms.
	RetryBackoff time.Duration
}

// Observer receives metrics hooks. Its methods must be quick, safe for concurrent use, and must
// not call back into a Session (some are called while the session's token is being replaced).
type Observer interface {
	RequestDone(op string, d time.Duration, err error) // op = "mute", "new_session", …
	TokenRefreshed()
	StreamReconnected()
}

// Client talks to one platform: checkJoin at its apiServer, and sessions at the nodes it names.
// It is safe for concurrent use.
type Client struct {
	api        *url.URL
	http       *http.Client
	stream     *http.Client
	log        *slog.Logger
	retries    int
	obs        Observer
	idle       time.Duration
	reconnMin  time.Duration
	reconnMax  time.Duration
	retryPause time.Duration
}

// NewClient returns a client of the platform whose checkJoin server (apiServer) is at the given
// base URL, e.g. "https://api.example.cn" or "http://127.0.0.1:8090" for the simulator.
func NewClient(apiServer string, opts ClientOptions) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(apiServer))
	if err != nil {
		return nil, fmt.Errorf("api server %q: %w", apiServer, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("api server %q: want an http:// or https:// URL", apiServer)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{
		api:        u,
		http:       opts.HTTPClient,
		log:        opts.Logger,
		retries:    opts.Retries,
		obs:        opts.Observer,
		idle:       opts.IdleTimeout,
		reconnMin:  opts.ReconnectMin,
		reconnMax:  opts.ReconnectMax,
		retryPause: opts.RetryBackoff,
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	sc := *c.http
	sc.Timeout = 0
	// Streams get their own connection pool with small buffers: an idle listener should cost
	// little, and a long-lived stream should never hold a connection ordinary requests wait for.
	if t, ok := transportOf(c.http); ok {
		t = t.Clone()
		t.ReadBufferSize, t.WriteBufferSize = streamBufSize, streamBufSize
		sc.Transport = t
	}
	c.stream = &sc
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.retries == 0:
		c.retries = 3
	case c.retries < 0:
		c.retries = 0
	}
	if c.idle <= 0 {
		c.idle = 45 * time.Second
	}
	if c.reconnMin <= 0 {
		c.reconnMin = 250 * time.Millisecond
	}
	if c.reconnMax <= 0 {
		c.reconnMax = 30 * time.Second
	}
	if c.reconnMax < c.reconnMin {
		c.reconnMax = c.reconnMin
	}
	if c.retryPause <= 0 {
		c.retryPause = 200 * time.Millisecond
	}
	return c, nil
}

// transportOf returns the *http.Transport behind hc, if that is what it uses.
func transportOf(hc *http.Client) (*http.Transport, bool) {
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	return t, ok
}

// APIServer returns the apiServer base URL the client was made with.
func (c *Client) APIServer() string { return c.api.String() }

// JoinInfo is what checkJoin says about a room (API section 1). The room's password is never kept.
type JoinInfo struct {
	IsDot           bool   // a point-to-point call, not a meeting
	SIPKey          string // the room's short number
	Alias           string // the room's email-style address
	ParticipantName string
	RoleType        string // "host" or "guest"; empty for point-to-point
	MCUHost         string // the node for every later request (clarification 7)
	ConferenceName  string
	CompanyID       int
	IsRecord        bool
	IsLive          bool
	AllowGuest      bool // "yes" by default
}

// Room names a meeting on a node: Node is mcuHost as checkJoin gave it (a bare host, host:port or
// a URL; clarification 7), Alias the room's number or email-style alias. An empty Node means the
// apiServer's own host.
type Room struct {
	Node, Alias string
}

// CheckJoin validates join credentials at the apiServer and returns the room's node (API section
// 1, clarification 8). room is the room's number or email-style alias; pin may be empty. A code
// other than "200" is an *Error whose Reason is the platform's message.
func (c *Client) CheckJoin(ctx context.Context, room, pin, displayName string) (JoinInfo, error) {
	const op = "checkJoin"
	body, _ := json.Marshal(map[string]string{
		"joinAccount": room, "joinPwd": pin, "participantName": displayName,
	})
	u := c.api.String() + "/api/v3/meet/checkJoin.shtml"
	var info JoinInfo
	err := c.observe(op, func() error {
		resp, err := c.send(ctx, op, true, func() (*http.Request, func(), error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
			}
			return req, nil, err
		})
		if err != nil {
			return err
		}
		var env struct {
			Code    json.RawMessage `json:"code"`
			Msg     json.RawMessage `json:"msg"`
			Message json.RawMessage `json:"message"`
			Results json.RawMessage `json:"results"`
		}
		if resp.status < 200 || resp.status >= 300 {
			if e := classify(op, resp.status, nil); e != nil {
				return e
			}
		}
		if err := json.Unmarshal(resp.body, &env); err != nil {
			return &Error{Op: op, Status: resp.status, Reason: "unreadable answer", Kind: ErrBadRequest, Err: err}
		}
		code := valString(env.Code)
		if code != "200" {
			reason := firstNonEmpty(valString(env.Msg), valString(env.Message), valString(env.Results))
			if reason == "" {
				reason = "checkJoin code " + code
			}
			return &Error{Op: op, Status: resp.status, Reason: reason, Kind: checkJoinKind(code, reason)}
		}
		info = JoinInfo{AllowGuest: true}
		return eachMember(env.Results, func(key, val []byte) error {
			switch string(key) {
			case "isDot":
				info.IsDot = valBool(val)
			case "sipkey":
				info.SIPKey = valString(val)
			case "alias":
				info.Alias = valString(val)
			case "participantName":
				info.ParticipantName = valString(val)
			case "roleType":
				info.RoleType = valString(val)
			case "mcuHost":
				info.MCUHost = valString(val)
			case "companyId":
				info.CompanyID = int(valInt(val))
			case "isRecord":
				info.IsRecord = valBool(val)
			case "isLive":
				info.IsLive = valBool(val)
			case "conferenceName":
				info.ConferenceName = valString(val)
			case "allowGuest":
				if s := valString(val); s != "" {
					info.AllowGuest = truthy(s)
				}
			}
			return nil
		})
	})
	if err != nil {
		var pe *Error
		if !errors.As(err, &pe) {
			err = &Error{Op: op, Reason: "unreadable answer", Kind: ErrBadRequest, Err: err}
		}
		return JoinInfo{}, err
	}
	return info, nil
}

// checkJoinKind guesses the kind of a checkJoin failure from its code and message: the vendor
// documents neither, so HTTP-like codes and a few words decide, and anything else is refused.
func checkJoinKind(code, reason string) error {
	low := strings.ToLower(reason)
	switch {
	case code == "404" || strings.Contains(low, "not found") || strings.Contains(low, "not exist"):
		return ErrNotFound
	case strings.Contains(low, "required") && (strings.Contains(low, "pin") || strings.Contains(low, "password")):
		return ErrPINRequired
	case strings.Contains(low, "pin") || strings.Contains(low, "password") || strings.Contains(low, "pwd"):
		return ErrInvalidPIN
	case code == "401" || code == "403":
		return ErrInvalidPIN
	case code == "400":
		return ErrBadRequest
	case strings.HasPrefix(code, "5"):
		return ErrTransient
	}
	return ErrRefused
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// nodeBase returns the scheme://host[:port][/path] of a node (clarification 7).
func (c *Client) nodeBase(node string) (string, error) {
	node = strings.TrimSpace(node)
	if node == "" {
		return c.api.Scheme + "://" + c.api.Host, nil
	}
	if strings.Contains(node, "://") {
		u, err := url.Parse(node)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return "", fmt.Errorf("node %q: not an http(s) URL", node)
		}
		return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
	}
	if strings.ContainsAny(node, "/?# ") {
		return "", fmt.Errorf("node %q: not a host", node)
	}
	return c.api.Scheme + "://" + node, nil
}

// roomBase returns the URL prefix of a room's commands, ending in "/".
func (c *Client) roomBase(r Room) (string, error) {
	if strings.TrimSpace(r.Alias) == "" {
		return "", errors.New("room without number or alias")
	}
	base, err := c.nodeBase(r.Node)
	if err != nil {
		return "", err
	}
	return base + "/api/services/" + url.PathEscape(strings.TrimSpace(r.Alias)) + "/", nil
}

type response struct {
	status int
	header http.Header
	body   []byte
}

const maxBody = 32 << 20

// send performs one request, retrying transient failures (5xx; network errors only when
// idempotent) up to c.retries times with backoff. A final transient failure is an *Error of kind
// ErrTransient; other HTTP statuses come back as a response for the caller to classify.
//
// build makes each attempt's request; its release function, if any, is called once the attempt's
// answer has been read (a Session holds its token lock until then).
func (c *Client) send(ctx context.Context, op string, idempotent bool, build func() (*http.Request, func(), error)) (response, error) {
	pause := c.retryPause
	for attempt := 0; ; attempt++ {
		req, release, err := build()
		if err != nil {
			return response{}, err
		}
		resp, err := c.http.Do(req)
		var r response
		if err == nil {
			r = response{status: resp.StatusCode, header: resp.Header}
			r.body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
		}
		if release != nil {
			release()
		}
		var final error
		switch {
		case err != nil && ctx.Err() != nil:
			return response{}, ctx.Err()
		case err != nil:
			final = &Error{Op: op, Reason: "network error", Kind: ErrTransient, Err: redact(err)}
			if !idempotent {
				return response{}, final
			}
		case transientStatus(r.status):
			final = classify(op, r.status, resultOf(r.body))
		default:
			return r, nil
		}
		if attempt >= c.retries {
			return response{}, final
		}
		c.log.Warn("platform request failed, retrying", "op", op, "attempt", attempt+1, "err", final)
		if err := sleep(ctx, jitter(pause)); err != nil {
			return response{}, err
		}
		pause = min(pause*2, 5*time.Second)
	}
}

// observe runs fn and reports it to the Observer.
func (c *Client) observe(op string, fn func() error) error {
	start := time.Now()
	err := fn()
	if c.obs != nil {
		c.obs.RequestDone(op, time.Since(start), err)
	}
	return err
}

// resultOf returns the "result" member of the platform's envelope, or nil.
func resultOf(body []byte) []byte {
	var result []byte
	if firstNonSpace(body) != '{' {
		return nil
	}
	_ = eachMember(body, func(key, val []byte) error {
		if string(key) == "result" {
			result = val
		}
		return nil
	})
	return result
}

// redact removes the query (which may hold a token) from the URL a *url.Error quotes.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = "…"
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

// jitter returns d scaled by a random factor in [0.5, 1.5).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
