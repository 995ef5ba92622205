package meetings

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ClientOptions configures a Client. The zero value is usable.
type ClientOptions struct {
	// HTTPClient serves ordinary requests; nil means one with a 30 s timeout. Give it a Timeout:
	// it bounds every request whose context has no deadline. Event streams use a copy of it
	// without Timeout (bounded by their context, StreamConnectTimeout and the idle watchdog)
	// and, when its Transport is an *http.Transport, a clone of that transport with small
	// buffers. Its CheckRedirect is replaced: the client never follows a redirect, because Go
	// would carry the pin and token headers (and a 307's body) to wherever it points.
	HTTPClient *http.Client
	// Logger receives Warn lines for what will be retried; nil discards.
	Logger *slog.Logger
	// Retries bounds the retries of transient failures (HTTP 5xx, 408 and 429, network errors)
	// of the commands that are safe to repeat. Commands that are not (dial, message, dtmf,
	// transfer, calls and calls/ack) are retried only when the platform surely did not act (408,
	// 429, a connection that could not be made); after a 5xx or a dropped connection they fail
	// with ErrOutcomeUnknown. new_session and refresh_session are retried on 5xx, 408 and 429
	// only. A deadline that passed (ErrPlatformUnresponsive) is never retried. 0 means 3,
	// negative means none.
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
	// StreamConnectTimeout is how long an event stream's request may wait for the response
	// headers; a node that accepts the connection and never answers is then given up on
	// (StreamLost with ErrPlatformUnresponsive) and the stream reconnects with backoff. 0 means
	// 15 s.
	StreamConnectTimeout time.Duration
	// NodeHosts, when not empty, lists the hosts the nodes may have: exact host names
	// ("node1.example.com") or suffixes starting with a dot (".example.com", or
	// "*.example.com", matches any host under example.com, not example.com itself). Ports are
	// ignored. A room whose node is elsewhere is refused by Open with ErrNodeRefused; the
	// apiServer's own host is always allowed. Empty means checkJoin's answer is trusted.
	NodeHosts []string
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
	api         *url.URL
	http        *http.Client
	stream      *http.Client
	log         *slog.Logger
	retries     int
	obs         Observer
	idle        time.Duration
	reconnMin   time.Duration
	reconnMax   time.Duration
	retryPause  time.Duration
	connTimeout time.Duration
	nodeHosts   []string // lower-cased; "" when any node is allowed
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
	if u.User != nil {
		return nil, fmt.Errorf("api server %q: want no user information in the URL", apiServer)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	c := &Client{
		api:         u,
		log:         opts.Logger,
		retries:     opts.Retries,
		obs:         opts.Observer,
		idle:        opts.IdleTimeout,
		reconnMin:   opts.ReconnectMin,
		reconnMax:   opts.ReconnectMax,
		retryPause:  opts.RetryBackoff,
		connTimeout: opts.StreamConnectTimeout,
	}
	for _, raw := range opts.NodeHosts {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		h := strings.ToLower(strings.TrimSuffix(raw, "."))
		if rest, ok := strings.CutPrefix(h, "*."); ok {
			h = "." + rest // "*.example.com" means what ".example.com" does
		}
		if h == "" || h == "." || strings.ContainsAny(h, "/:@?#*[] ") {
			return nil, fmt.Errorf("node host %q: want a host name or a suffix such as .example.com", h)
		}
		c.nodeHosts = append(c.nodeHosts, h)
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if opts.HTTPClient != nil {
		cp := *opts.HTTPClient
		hc = &cp
	}
	// Never follow a redirect: Go forwards custom headers (pin, token) on redirects and re-sends
	// a 307's body (checkJoin's PIN), to whatever host the Location names. The 3xx answer comes
	// back to send, which refuses it.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = hc
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
	if c.connTimeout <= 0 {
		c.connTimeout = 15 * time.Second
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
	// IsRecord and IsLive say whether the room's account may record and stream live: both
	// are done by dialling a streaming RTMP participant (DialRequest.Streaming), which the
	// platform will not let record or go live where these are false. Absent means false, as
	// the vendor's page gives false for point-to-point calls and an older apiServer may not
	// send them at all: a caller refuses recording rather than dial and fail.
	IsRecord   bool
	IsLive     bool
	AllowGuest bool // "yes" by default
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
		resp, err := c.send(ctx, op, retrySafe, func() (*http.Request, func(), error) {
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
		if !errors.As(err, &pe) && ctx.Err() == nil {
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

// nodeBase returns the scheme://host[:port][/path] of a node (clarification 7). It refuses, with
// an *Error of kind ErrNodeRefused, a node that would take the session's PIN and token somewhere
// the operator did not mean: http when the apiServer is https, user information in the URL, or a
// host outside ClientOptions.NodeHosts.
func (c *Client) nodeBase(node string) (string, error) {
	node = strings.TrimSpace(node)
	if node == "" {
		return c.api.Scheme + "://" + c.api.Host, nil
	}
	raw := node
	if !strings.Contains(node, "://") {
		if strings.ContainsAny(node, "/?#@ \\") {
			return "", fmt.Errorf("node %q: not a host", node)
		}
		raw = c.api.Scheme + "://" + node
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("node %q: not an http(s) URL", node)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	switch {
	case u.User != nil:
		return "", nodeRefused(host, "the node's address carries user information")
	case u.Scheme == "http" && c.api.Scheme == "https":
		return "", nodeRefused(host, "the node is plain http while the apiServer is https; the PIN and token would travel in clear")
	case !c.nodeAllowed(host):
		return "", nodeRefused(host, "the node host "+host+" is not among the allowed node hosts (MEET_NODE_HOSTS)")
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// nodeAllowed reports whether host (lower-cased, without port) may be a node.
func (c *Client) nodeAllowed(host string) bool {
	if len(c.nodeHosts) == 0 || host == strings.ToLower(strings.TrimSuffix(c.api.Hostname(), ".")) {
		return true
	}
	for _, h := range c.nodeHosts {
		if host == h || strings.HasPrefix(h, ".") && strings.HasSuffix(host, h) {
			return true
		}
	}
	return false
}

func nodeRefused(host, reason string) *Error {
	return &Error{Op: "node " + host, Reason: reason, Kind: ErrNodeRefused}
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

// retryPolicy says what may be repeated after a failure without a clear answer.
type retryPolicy int

const (
	// retrySafe: the command is idempotent; 5xx, 408, 429 and network errors are retried.
	retrySafe retryPolicy = iota
	// retryAnswered: 5xx, 408 and 429 are retried, network errors are not (new_session,
	// refresh_session: a repeat would make a second participant or spend the token).
	retryAnswered
	// retryNever: the command is not idempotent (dial, message, dtmf, transfer, calls,
	// calls/ack). Only failures that prove the platform did not act (408, 429, no connection)
	// are retried; a 5xx or a dropped connection after sending is ErrOutcomeUnknown.
	retryNever
)

// send performs one request, retrying transient failures up to c.retries times with backoff as
// policy allows. A final transient failure is an *Error of kind ErrTransient; a passed deadline
// one of kind ErrPlatformUnresponsive; a redirect one of kind ErrNodeRefused; with retryNever, a
// failure after the request was sent is wrapped in ErrOutcomeUnknown. Other HTTP statuses come
// back as a response for the caller to classify.
//
// build makes each attempt's request; its release function, if any, is called once the attempt's
// answer has been read (a Session counts the requests that carry its token until then).
func (c *Client) send(ctx context.Context, op string, policy retryPolicy, build func() (*http.Request, func(), error)) (response, error) {
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
		case err != nil:
			sent := !notSent(err)
			e := requestFailure(ctx, op, err)
			if policy == retryNever && sent {
				return response{}, outcomeUnknown(e)
			}
			if e == nil { // the caller cancelled
				return response{}, ctx.Err()
			}
			if e.Kind == ErrPlatformUnresponsive || policy != retrySafe && sent {
				return response{}, e
			}
			final = e
		case r.status >= 300 && r.status < 400:
			return response{}, redirectRefused(op, r)
		case transientStatus(r.status):
			pe := classify(op, r.status, resultOf(r.body))
			if policy == retryNever && r.status >= 500 {
				return response{}, outcomeUnknown(pe)
			}
			final = pe
		default:
			return r, nil
		}
		if attempt >= c.retries {
			return response{}, final
		}
		c.log.Warn("platform request failed, retrying", "op", op, "attempt", attempt+1, "err", final)
		if err := sleep(ctx, jitter(pause)); err != nil {
			if e := ctxFailure(ctx, op); e != nil {
				return response{}, e
			}
			return response{}, err
		}
		pause = min(pause*2, 5*time.Second)
	}
}

// requestFailure describes a request that got no answer: ErrPlatformUnresponsive when a deadline
// (ctx's or the HTTP client's) passed, ErrTransient for other network errors, and nil when ctx
// was cancelled by the caller.
func requestFailure(ctx context.Context, op string, err error) *Error {
	if ctx.Err() != nil {
		return ctxFailure(ctx, op)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Op: op, Reason: "no answer in time", Kind: ErrPlatformUnresponsive, Err: redact(err)}
	}
	return &Error{Op: op, Reason: "network error", Kind: ErrTransient, Err: redact(err)}
}

// ctxFailure describes ctx's end: ErrPlatformUnresponsive wrapping context.DeadlineExceeded when
// its deadline passed, nil when it was cancelled (the caller knows why).
func ctxFailure(ctx context.Context, op string) *Error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Op: op, Reason: "no answer in time", Kind: ErrPlatformUnresponsive, Err: ctx.Err()}
	}
	return nil
}

// outcomeUnknownError wraps what came back from a command that is not safe to repeat when it
// may have been carried out. It matches ErrOutcomeUnknown and whatever its cause matches.
type outcomeUnknownError struct{ cause error }

func (e *outcomeUnknownError) Error() string {
	return "outcome unknown: " + e.cause.Error()
}

func (e *outcomeUnknownError) Unwrap() []error { return []error{ErrOutcomeUnknown, e.cause} }

// outcomeUnknown wraps cause (an *Error, or nil when the caller cancelled) in ErrOutcomeUnknown.
func outcomeUnknown(cause *Error) error {
	if cause == nil {
		return &outcomeUnknownError{cause: context.Canceled}
	}
	return &outcomeUnknownError{cause: cause}
}

// notSent reports whether err proves the request never reached the platform: no connection
// could be made, or TLS refused the server before anything was written.
func notSent(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	return errors.As(err, &cv) || errors.As(err, &rh)
}

// redirectRefused describes a 3xx answer, naming where it pointed by host only (its query may
// carry a token).
func redirectRefused(op string, r response) *Error {
	where := "elsewhere"
	if u, err := url.Parse(r.header.Get("Location")); err == nil && u.Host != "" {
		where = u.Scheme + "://" + u.Host
	}
	return &Error{Op: op, Status: r.status, Reason: "redirect to " + where + " refused; the client does not follow redirects", Kind: ErrNodeRefused}
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
