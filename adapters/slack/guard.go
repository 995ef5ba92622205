package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// What an attacker who knows only the endpoint's URL can make the bot do is bounded here, before
// the signing secret is consulted:
//
//   - requests with malformed or stale signature headers are refused from their headers alone;
//   - a declared body larger than the endpoint takes is refused before a byte of it is read;
//   - bodies are read only within a bounded number of concurrent slots: a wide lane for declared
//     bodies of up to 16 KiB (every real slash command and most button presses) and a narrow one
//     for larger or unsized bodies, so large bodies cannot crowd out small ones;
//   - the memory those reads hold is drawn from one budget as the bytes arrive, not as they are
//     announced, so a thousand senders that announce a body and trickle it hold only what they
//     have sent; a read that would overdraw the budget is refused;
//   - each body must arrive within two seconds.
//
// So a flood of slow or large requests with well-formed but wrong signatures costs at most the
// budget in body memory, and a signed command, which is small and sent at once, still finds a
// slot and bytes unless the flood itself pushes the whole budget's worth of bytes every two
// seconds. Every refusal closes the connection.

// Body limits per endpoint: generous bounds on what Slack sends there. Slack documents no request
// size, so they are derived from the message limits it does document.
const (
	// maxCommandBody: a slash command is a dozen short form fields and the typed text; 64 KiB
	// holds more than 5,000 characters of four-byte UTF-8, percent-encoded (12 bytes each).
	maxCommandBody = 64 << 10
	// maxInteractionBody: a block_actions payload carries the whole message the button was on,
	// up to 50 blocks of 3,000 characters of text or 25 buttons each, JSON, percent-encoded.
	// The largest message the renderer makes stays far below it (TestLargestPressFits).
	maxInteractionBody = 256 << 10
	// maxEventBody: url_verification, app_uninstalled and tokens_revoked are small JSON objects.
	maxEventBody = 64 << 10

	// smallBody is the largest declared body read in the wide lane; larger or unsized bodies
	// (chunked) take the narrow one.
	smallBody = 16 << 10
	// DefaultMaxUnverifiedReads is how many small bodies may be read at once before their
	// signature is checked (Config.MaxUnverifiedReads). The byte budget of unverified reads is
	// budgetPerRead for each: 32 MiB by default.
	DefaultMaxUnverifiedReads = 4096
	budgetPerRead             = 8 << 10
	// firstRead is the buffer a body is first read into; it doubles as bytes arrive.
	firstRead = 1 << 10
	// bodyTimeout bounds the reading of one body. Slack sends a request at once, and an answer
	// later than three seconds is too late for Slack anyway.
	bodyTimeout = 2 * time.Second

	// signatureWindow is how far a request's timestamp may be from now, either way (Slack's).
	signatureWindow = 5 * time.Minute
	// replayTTL outlasts the signature window on both sides, with a minute for clock skew
	// between replicas: a signature accepted once is refused for as long as it could verify.
	replayTTL = 2*signatureWindow + time.Minute
)

// Why signature headers are refused. Fixed texts: nothing the sender chose reaches the log.
var (
	errNoSignature    = errors.New("missing X-Slack-Signature or X-Slack-Request-Timestamp")
	errSignatureForm  = errors.New("X-Slack-Signature is not v0= and 64 hex digits")
	errTimestampForm  = errors.New("X-Slack-Request-Timestamp is not a Unix time in seconds")
	errStaleTimestamp = errors.New("X-Slack-Request-Timestamp is outside the five-minute window")
	errBadSignature   = errors.New("signature does not match the body")
)

// signedHeaders is what a request's signature headers say, checked for form and freshness.
type signedHeaders struct {
	ts  string   // the timestamp as sent: it is part of the signed base string
	mac [32]byte // the decoded HMAC-SHA256
}

// parseSignedHeaders reads X-Slack-Signature ("v0=" and 64 hex digits, either case) and
// X-Slack-Request-Timestamp (decimal seconds within signatureWindow of now). A header given
// twice is refused: which copy to trust would be a guess.
func parseSignedHeaders(h http.Header, now time.Time) (signedHeaders, error) {
	sigs, tss := h.Values("X-Slack-Signature"), h.Values("X-Slack-Request-Timestamp")
	if len(sigs) != 1 || len(tss) != 1 {
		return signedHeaders{}, errNoSignature
	}
	return parseSignature(sigs[0], tss[0], now)
}

func parseSignature(sig, ts string, now time.Time) (signedHeaders, error) {
	var s signedHeaders
	if len(ts) == 0 || len(ts) > 12 {
		return s, errTimestampForm
	}
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return s, errTimestampForm
		}
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return s, errTimestampForm
	}
	if d := now.Sub(time.Unix(secs, 0)); d > signatureWindow || d < -signatureWindow {
		return s, errStaleTimestamp
	}
	const prefix = "v0="
	if len(sig) != len(prefix)+hex.EncodedLen(len(s.mac)) || sig[:len(prefix)] != prefix {
		return s, errSignatureForm
	}
	if _, err := hex.Decode(s.mac[:], []byte(sig[len(prefix):])); err != nil {
		return s, errSignatureForm
	}
	s.ts = ts
	return s, nil
}

// verify reports whether body is signed with secret under these headers.
func (s signedHeaders) verify(secret string, body []byte) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + s.ts + ":"))
	m.Write(body)
	return hmac.Equal(m.Sum(nil), s.mac[:])
}

// nonce is the replay key of a verified request: its decoded signature, so "v0=ABCD…" and
// "v0=abcd…" are the same request.
func (s signedHeaders) nonce() string { return "slack:" + hex.EncodeToString(s.mac[:]) }

// readGate bounds how many bodies are read before their signature is checked, and how many
// bytes they hold.
type readGate struct {
	small  chan struct{} // declared bodies up to smallBody
	large  chan struct{} // larger or unsized bodies
	budget atomic.Int64  // bytes unverified bodies may still take
}

func newReadGate(n int) *readGate {
	if n <= 0 {
		n = DefaultMaxUnverifiedReads
	}
	g := &readGate{small: make(chan struct{}, n), large: make(chan struct{}, max(4, n/256))}
	g.budget.Store(int64(n) * budgetPerRead)
	return g
}

// enter takes a slot for a body of the declared size (-1: unknown) without waiting; ok is false
// when every slot of its lane is taken. Waiting would only queue legitimate requests behind a
// flood: refusing at once (503) keeps the cost of the flood to its slots.
func (g *readGate) enter(size int64) (release func(), ok bool) {
	lane := g.large
	if size >= 0 && size <= smallBody {
		lane = g.small
	}
	select {
	case lane <- struct{}{}:
		return func() { <-lane }, true
	default:
		return nil, false
	}
}

// take draws n bytes from the budget; false when they are not there.
func (g *readGate) take(n int64) bool {
	if g.budget.Add(-n) < 0 {
		g.budget.Add(n)
		return false
	}
	return true
}

// give returns n bytes to the budget.
func (g *readGate) give(n int64) { g.budget.Add(n) }

// errBudget: reading on would take more memory than unverified bodies may hold.
var errBudget = errors.New("unverified bodies hold all the memory they may")

// read reads r to the end into a buffer that grows as bytes arrive, drawing each growth from the
// budget. It returns what it read and the bytes it holds, which the caller gives back once the
// body is verified or refused (also on error).
func (g *readGate) read(r io.Reader) (body []byte, held int64, err error) {
	buf := make([]byte, 0)
	for {
		if len(buf) == cap(buf) {
			size := max(firstRead, 2*cap(buf))
			if !g.take(int64(size)) {
				return nil, held, errBudget
			}
			grown := make([]byte, len(buf), size)
			copy(grown, buf)
			g.give(int64(cap(buf)))
			held += int64(size - cap(buf))
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, held, nil
		}
		if err != nil {
			return nil, held, err
		}
	}
}

// ReplayGuard remembers which signed requests have already run, so a captured request cannot be
// run again while its signature is still fresh. ClaimNonce reports true for the first claim of key
// within ttl; every replica behind one load balancer must share one guard (the store), or a
// replay to another replica passes. An error means the guard cannot tell; the adapter then
// refuses the request rather than risk running it twice.
type ReplayGuard interface {
	ClaimNonce(ctx context.Context, key string, ttl time.Duration) (fresh bool, err error)
}

// ErrReplayCacheFull is returned by the in-memory replay guard when it holds as many live nonces
// as it may; the request is refused (503) rather than forgetting a nonce that could be replayed.
var ErrReplayCacheFull = errors.New("replay cache full")

// memoryNonces is the default ReplayGuard of a single process: bounded, expiring. Only verified
// requests reach it, so filling it takes Slack's own traffic (its bound is 65,536 requests within
// replayTTL, about 90 a second).
type memoryNonces struct {
	now func() time.Time
	max int

	mu    sync.Mutex
	until map[string]time.Time
	order []nonceEntry // in order of claiming; with one ttl, also of expiry
}

type nonceEntry struct {
	key   string
	until time.Time
}

func newMemoryNonces(now func() time.Time, max int) *memoryNonces {
	return &memoryNonces{now: now, max: max, until: map[string]time.Time{}}
}

// ClaimNonce implements ReplayGuard.
func (m *memoryNonces) ClaimNonce(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	// Forget what has expired, oldest first; the adapter uses one ttl, so order is expiry order.
	i := 0
	for ; i < len(m.order) && !now.Before(m.order[i].until); i++ {
		if u, ok := m.until[m.order[i].key]; ok && !now.Before(u) {
			delete(m.until, m.order[i].key)
		}
	}
	if i > 0 {
		m.order = append(m.order[:0:0], m.order[i:]...)
	}
	if u, ok := m.until[key]; ok && now.Before(u) {
		return false, nil
	}
	if len(m.until) >= m.max {
		return false, fmt.Errorf("claim nonce: %w", ErrReplayCacheFull)
	}
	m.until[key] = now.Add(ttl)
	m.order = append(m.order, nonceEntry{key: key, until: now.Add(ttl)})
	return true, nil
}

// logGate lets one log line per reason through per interval and counts the rest, so a flood of
// refused requests cannot flood the log as well.
type logGate struct {
	every time.Duration
	mu    sync.Mutex
	last  map[string]time.Time
	quiet map[string]int
}

func newLogGate(every time.Duration) *logGate {
	return &logGate{every: every, last: map[string]time.Time{}, quiet: map[string]int{}}
}

// allow reports whether to log reason now, and how many were held back since the last line.
func (g *logGate) allow(reason string, now time.Time) (ok bool, suppressed int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if last, seen := g.last[reason]; seen && now.Sub(last) < g.every {
		g.quiet[reason]++
		return false, 0
	}
	g.last[reason] = now
	suppressed = g.quiet[reason]
	g.quiet[reason] = 0
	return true, suppressed
}
