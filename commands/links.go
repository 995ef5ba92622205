package commands

import (
	"context"
	"sync"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

// defaultLinkTTL is how long a channel's link is reused from memory.
const defaultLinkTTL = 2 * time.Second

// linkCache keeps each channel's link for a short while, so a burst of commands reads the store
// once instead of once per command. Only links found are kept (a channel linked on another replica
// is seen at once); this router's link and unlink drop the channel's entry, so it never serves a
// link it replaced itself. Safe for concurrent use.
type linkCache struct {
	ttl time.Duration

	mu sync.Mutex
	m  map[chat.ChannelRef]cachedLink
}

type cachedLink struct {
	link store.Link
	at   time.Time
}

// get returns the link of ch from memory when fresh, else from st.
func (lc *linkCache) get(ctx context.Context, st store.Links, ch chat.ChannelRef) (store.Link, error) {
	if lc.ttl <= 0 {
		return st.GetLink(ctx, ch)
	}
	lc.mu.Lock()
	e, ok := lc.m[ch]
	lc.mu.Unlock()
	if ok && time.Since(e.at) < lc.ttl {
		return e.link, nil
	}
	l, err := st.GetLink(ctx, ch)
	if err != nil {
		lc.forget(ch)
		return l, err
	}
	lc.mu.Lock()
	if lc.m == nil {
		lc.m = make(map[chat.ChannelRef]cachedLink)
	}
	if len(lc.m) > 10000 {
		clear(lc.m) // a bound, not an eviction policy: links are cheap to read again
	}
	lc.m[ch] = cachedLink{link: l, at: time.Now()}
	lc.mu.Unlock()
	return l, nil
}

// forget drops the entry of ch.
func (lc *linkCache) forget(ch chat.ChannelRef) {
	lc.mu.Lock()
	delete(lc.m, ch)
	lc.mu.Unlock()
}
