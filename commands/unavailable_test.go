package commands

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/pgtest"
	"github.com/meetbot/meetbot/store/postgres"
)

// tcpProxy forwards loopback connections to a server until cut, which drops them all and refuses
// new ones: the database going away under a running bot.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			s.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { io.Copy(s, c); s.Close() }()
		go func() { io.Copy(c, s); c.Close() }()
	}
}

// stop drops every connection and closes the listener.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	p.cut = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
}

// With PostgreSQL gone, a command says the database is unavailable, in one line, and calls no one.
func TestDatabaseGoneAnswersPlainly(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(pgtest.SchemaURL(t, "commands"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	st, err := postgres.Open(ctx, u.String(), bytes.Repeat([]byte{7}, 32), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := newFixture(t)
	var outcomes []string
	var mu sync.Mutex
	r := New(Config{Store: st, Client: f.client, Meetings: f.meet, Logger: f.router.log, LinkTTL: -1,
		Observer: func(cmd, outcome string, _ time.Duration) {
			mu.Lock()
			outcomes = append(outcomes, outcome)
			mu.Unlock()
		}})
	do := func(text string) chat.Reply {
		return r.Handle(ctx, chat.Request{Channel: f.ch, User: f.user, Rights: chat.Admin, Text: text})
	}
	if rep := do("link " + pubRoom + " " + hostPIN); rep.Failed {
		t.Fatalf("link: %+v", rep)
	}
	if _, err := st.GetLink(ctx, f.ch); err != nil {
		t.Fatal(err)
	}

	proxy.stop()
	f.sim.ResetRequests()
	rep := do("lock")
	if rep.Text != storeUnavailableLine || !rep.Failed {
		t.Errorf("lock with the database gone: %+v, want %q", rep, storeUnavailableLine)
	}
	if strings.Contains(rep.Text, "Something went wrong") {
		t.Error("answered with a reference")
	}
	if ops := f.ops(); len(ops) != 0 {
		t.Errorf("called %v", ops)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := outcomes[len(outcomes)-1]; got != string(outcomeUnavailable) {
		t.Errorf("outcome %q, want %q", got, outcomeUnavailable)
	}
}
