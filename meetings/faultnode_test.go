package meetings_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/meetings/sim"
)

// faultyNode wraps the simulator's handler with the faults of a node that is slow rather than
// down: per operation it hangs requests until released (or until the client gives up), or
// passes a request on to the simulator and then answers 502, as a proxy in front of a node that
// acted does. Rules are keyed by "<room>/<op>" or by "<op>" for every room; ops are named as
// the simulator records them ("lock", "participant/mute", "call/ack", …).
type faultyNode struct {
	next http.Handler

	mu       sync.Mutex
	hangs    map[string]*hang
	bad      map[string]int    // answers 502 after passing on; the count left, -1 for ever
	redirect map[string]string // answers 307 to this URL (the request's query appended)
}

// hang holds the requests of one rule. entered receives the op each time a request starts
// hanging; Release lets every held request (and later ones) through to the simulator; Recover
// lets later requests through but leaves the held ones hanging until their clients give up, as a
// node that recovers does not answer the connections it dropped on the floor.
type hang struct {
	entered   chan string
	release   chan struct{}
	released  sync.Once
	recovered chan struct{}
	recover   sync.Once
}

func newFaultyNode(next http.Handler) *faultyNode {
	return &faultyNode{next: next, hangs: map[string]*hang{}, bad: map[string]int{}, redirect: map[string]string{}}
}

// Hang makes requests for key hang until Release.
func (f *faultyNode) Hang(key string) *hang {
	h := &hang{entered: make(chan string, 1000), release: make(chan struct{}), recovered: make(chan struct{})}
	f.mu.Lock()
	f.hangs[key] = h
	f.mu.Unlock()
	return h
}

// Release lets the held requests and every later one through.
func (h *hang) Release() { h.released.Do(func() { close(h.release) }) }

// Recover lets every later request through; the held ones stay held.
func (h *hang) Recover() { h.recover.Do(func() { close(h.recovered) }) }

// Redirect makes requests for key answer 307 Temporary Redirect to url; "" ends that.
func (f *faultyNode) Redirect(key, url string) {
	f.mu.Lock()
	f.redirect[key] = url
	f.mu.Unlock()
}

// BadGatewayAfter makes the next n requests for key (-1: all) reach the simulator and then
// answer 502 instead of the simulator's answer.
func (f *faultyNode) BadGatewayAfter(key string, n int) {
	f.mu.Lock()
	f.bad[key] = n
	f.mu.Unlock()
}

// opOf names a platform request as the simulator's RecordedRequest.Op does, with its room.
func opOf(r *http.Request) (room, op string) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/services/")
	if !ok {
		return "", r.URL.Path
	}
	segs := strings.Split(rest, "/")
	switch {
	case len(segs) == 2:
		return segs[0], segs[1]
	case len(segs) == 4:
		return segs[0], "participant/" + segs[3]
	case len(segs) == 6:
		return segs[0], "call/" + segs[5]
	}
	return segs[0], rest
}

func (f *faultyNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	room, op := opOf(r)
	f.mu.Lock()
	h := f.hangs[room+"/"+op]
	if h == nil {
		h = f.hangs[op]
	}
	key := room + "/" + op
	n, bad := f.bad[key]
	if !bad {
		key = op
		n, bad = f.bad[key]
	}
	if bad && n != 0 {
		if n > 0 {
			f.bad[key] = n - 1
		}
	} else {
		bad = false
	}
	to := f.redirect[room+"/"+op]
	if to == "" {
		to = f.redirect[op]
	}
	f.mu.Unlock()
	if to != "" {
		if r.URL.RawQuery != "" {
			to += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, to, http.StatusTemporaryRedirect)
		return
	}
	if h != nil {
		// Read the body first: until it is read, the server does not watch the connection, and
		// a client that gives up would not end the request's context.
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case <-h.recovered:
		default:
			h.entered <- op
			select {
			case <-h.release:
			case <-r.Context().Done(): // the client gave up and closed the connection
				return
			}
		}
	}
	if bad {
		f.next.ServeHTTP(httptest.NewRecorder(), r) // the node acts; its answer is lost
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>502 Bad Gateway</html>"))
		return
	}
	f.next.ServeHTTP(w, r)
}

// faultEnv is a simulator behind a faultyNode, on loopback, and a client of it.
type faultEnv struct {
	*env
	fault *faultyNode
}

func newFaultEnv(t *testing.T, opts sim.Options, copts meetings.ClientOptions) *faultEnv {
	t.Helper()
	s := sim.New(opts)
	f := newFaultyNode(s)
	srv := httptest.NewServer(f)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		s.Close()
		srv.Close()
	})
	e := &env{t: t, sim: s, srv: srv, obs: &counter{}}
	if copts.Observer == nil {
		copts.Observer = e.obs
	}
	if copts.ReconnectMin == 0 {
		copts.ReconnectMin = 10 * time.Millisecond
	}
	if copts.ReconnectMax == 0 {
		copts.ReconnectMax = 100 * time.Millisecond
	}
	if copts.RetryBackoff == 0 {
		copts.RetryBackoff = 5 * time.Millisecond
	}
	c, err := meetings.NewClient(srv.URL, copts)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return &faultEnv{env: e, fault: f}
}

// count returns how many requests for op the simulator received.
func (e *env) count(op string) int {
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Op == op {
			n++
		}
	}
	return n
}

// pipeNet is an in-memory network for synctest bubbles, where goroutines blocked on real
// sockets would keep the fake clock from advancing: the client's transport dials net.Pipe
// connections whose other ends an http.Server accepts.
type pipeNet struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	mu     sync.Mutex
	all    []net.Conn
}

func newPipeNet() *pipeNet {
	return &pipeNet{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (n *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-n.conns:
		return c, nil
	case <-n.closed:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes every connection made, so no goroutine outlives the bubble.
func (n *pipeNet) Close() error {
	n.once.Do(func() { close(n.closed) })
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.all {
		c.Close()
	}
	return nil
}

func (n *pipeNet) Addr() net.Addr { return pipeAddr{} }

func (n *pipeNet) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	n.mu.Lock()
	n.all = append(n.all, client, server)
	n.mu.Unlock()
	select {
	case n.conns <- server:
		return client, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.closed:
		return nil, net.ErrClosed
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// servePipe serves h on an in-memory network and returns an HTTP client of it; everything is
// closed at cleanup.
func servePipe(t *testing.T, h http.Handler) *http.Client {
	n := newPipeNet()
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(n)
	}()
	tr := &http.Transport{DialContext: n.DialContext}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
		n.Close()
		<-done
	})
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}
