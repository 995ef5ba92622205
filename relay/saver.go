package relay

import (
	"context"
	"sync"
	"time"
)

// saver is the one roster saver of a Supervisor: every SaveInterval it saves, for each running
// listener, the newest roster its channels have posted. One ticker for all listeners instead of
// a ticker and a goroutine per listener: at thousands of idle meetings those ticks were most of
// the process's idle CPU. Its zero value is ready for use; its goroutine runs only while some
// listener is registered.
type saver struct {
	mu        sync.Mutex
	listeners map[*Listener]struct{}
	running   bool
}

// saveWorkers bounds how many listeners save at once within one round, so a storm's saves
// neither run one by one nor open a connection per meeting.
const saveWorkers = 8

// saveTimeout bounds one listener's save in a round.
const saveTimeout = 2 * time.Second

// add registers l; its roster is saved from the next round on.
func (sv *saver) add(l *Listener) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.listeners == nil {
		sv.listeners = map[*Listener]struct{}{}
	}
	sv.listeners[l] = struct{}{}
	if !sv.running {
		sv.running = true
		go sv.run(l.sup.saveInterval())
	}
}

// remove unregisters l and waits until a round's save of l in progress has returned, so the
// caller's own last save is the last one.
func (sv *saver) remove(l *Listener) {
	sv.mu.Lock()
	delete(sv.listeners, l)
	sv.mu.Unlock()
	l.saveMu.Lock()
	l.saveMu.Unlock() //nolint:staticcheck // an empty critical section: waits for a save in progress
}

func (sv *saver) run(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var batch []*Listener
	for range t.C {
		sv.mu.Lock()
		if len(sv.listeners) == 0 {
			sv.running = false
			sv.mu.Unlock()
			return
		}
		batch = batch[:0]
		for l := range sv.listeners {
			batch = append(batch, l)
		}
		sv.mu.Unlock()
		sv.round(batch)
	}
}

// round saves the rosters of batch, saveWorkers at a time.
func (sv *saver) round(batch []*Listener) {
	work := make(chan *Listener)
	var wg sync.WaitGroup
	for range min(saveWorkers, len(batch)) {
		wg.Go(func() {
			for l := range work {
				l.saveMu.Lock()
				if l.obCtx.Err() == nil && sv.has(l) {
					// A save that hangs (the database unreachable) must not hold up the round's
					// other listeners for long: it is retried in a later round.
					ctx, cancel := context.WithTimeout(l.obCtx, saveTimeout)
					l.saveRoster(ctx)
					l.sup.recordBot(ctx, l.key, l.sess)
					cancel()
				}
				l.saveMu.Unlock()
			}
		})
	}
	for _, l := range batch {
		work <- l
	}
	close(work)
	wg.Wait()
}

func (sv *saver) has(l *Listener) bool {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	_, ok := sv.listeners[l]
	return ok
}
