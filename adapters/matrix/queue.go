package matrix

import (
	"sync"

	"maunium.net/go/mautrix/id"
)

// roomQueues runs jobs one at a time per room, rooms in parallel, so a slow command in one room
// holds up neither other rooms nor the sync (and with it the encryption keys). Safe for concurrent
// use.
type roomQueues struct {
	mu sync.Mutex
	q  map[id.RoomID][]func() // a key exists while the room's goroutine runs
	wg sync.WaitGroup
}

func newRoomQueues() *roomQueues { return &roomQueues{q: make(map[id.RoomID][]func())} }

// run queues job behind the room's earlier jobs.
func (r *roomQueues) run(room id.RoomID, job func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pending, running := r.q[room]
	r.q[room] = append(pending, job)
	if !running {
		r.wg.Add(1)
		go r.drain(room)
	}
}

func (r *roomQueues) drain(room id.RoomID) {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		jobs := r.q[room]
		if len(jobs) == 0 {
			delete(r.q, room)
			r.mu.Unlock()
			return
		}
		job := jobs[0]
		r.q[room] = jobs[1:]
		r.mu.Unlock()
		job()
	}
}

// wait returns when every queued job has run.
func (r *roomQueues) wait() { r.wg.Wait() }
