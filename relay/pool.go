package relay

import (
	"context"
	"time"

	"sync"

	"github.com/meetbot/meetbot/meetings"
	"github.com/meetbot/meetbot/store"
)

// pool keeps command sessions for meetings this replica does not listen to (or whose listener
// joined with another PIN), one per meeting and PIN, opened on demand and closed after
// IdleSession unused.
type pool struct {
	sup     *Supervisor
	mu      sync.Mutex
	entries map[string]*pooled
}

type pooled struct {
	meeting string
	ready   chan struct{} // closed once sess or err is set
	sess    *meetings.Session
	err     error
	last    time.Time // guarded by pool.mu
}

// poolKey tells sessions apart by meeting and PIN, so a guest channel never borrows a host's
// session. It stays in memory only.
func poolKey(link store.Link) string {
	return link.Meeting.Key() + "\x00" + link.PIN.Reveal()
}

// get returns the pooled session of link's meeting and PIN, opening it if need be.
func (p *pool) get(ctx context.Context, link store.Link) (*meetings.Session, error) {
	k := poolKey(link)
	p.mu.Lock()
	e, ok := p.entries[k]
	if !ok {
		e = &pooled{meeting: link.Meeting.Key(), ready: make(chan struct{}), last: time.Now()}
		p.entries[k] = e
		p.mu.Unlock()
		e.sess, e.err = p.sup.open(ctx, link)
		close(e.ready)
		if e.err != nil {
			p.mu.Lock()
			if p.entries[k] == e {
				delete(p.entries, k)
			}
			p.mu.Unlock()
			return nil, e.err
		}
		return e.sess, nil
	}
	e.last = time.Now()
	p.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.sess, nil
}

// offer keeps sess, opened for link, for later commands, or closes it when one is kept already.
func (p *pool) offer(link store.Link, sess *meetings.Session) {
	if sess == nil {
		return
	}
	k := poolKey(link)
	p.mu.Lock()
	if _, ok := p.entries[k]; ok {
		p.mu.Unlock()
		p.sup.tasks.Go(func() { p.sup.closeSession(link.Meeting.Key(), sess) })
		return
	}
	e := &pooled{meeting: link.Meeting.Key(), ready: make(chan struct{}), sess: sess, last: time.Now()}
	close(e.ready)
	p.entries[k] = e
	p.mu.Unlock()
}

// closeIdle ends the sessions unused for IdleSession.
func (p *pool) closeIdle() {
	cutoff := time.Now().Add(-p.sup.idleSession())
	p.closeWhere(func(e *pooled) bool { return e.last.Before(cutoff) })
}

// closeMeeting ends the sessions of one meeting.
func (p *pool) closeMeeting(meeting string) {
	p.closeWhere(func(e *pooled) bool { return e.meeting == meeting })
}

// closeAll ends every pooled session.
func (p *pool) closeAll() { p.closeWhere(func(*pooled) bool { return true }) }

func (p *pool) closeWhere(match func(*pooled) bool) {
	var victims []*pooled
	p.mu.Lock()
	for k, e := range p.entries {
		select {
		case <-e.ready:
		default:
			continue // still opening
		}
		if e.sess != nil && match(e) {
			victims = append(victims, e)
			delete(p.entries, k)
		}
	}
	p.mu.Unlock()
	// Each ends in the background, within OpenTimeout: a node that hangs on end_session holds
	// up no resync and no command.
	for _, e := range victims {
		p.sup.tasks.Go(func() { p.sup.closeSession(e.meeting, e.sess) })
	}
}
