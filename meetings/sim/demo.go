package sim

import (
	"context"
	"math/rand/v2"
	"time"
)

// The demo room, as the getting-started text tells users to link it: `link demo 1234`.
const (
	DemoAlias    = "demo"
	DemoNumber   = "1234567"
	DemoName     = "Demo stand-up"
	DemoHostPIN  = "1234"
	DemoGuestPIN = "5678"
)

// DemoOptions tunes RunDemo. The zero value gives a human pace: something happens every 5–20 s.
type DemoOptions struct {
	// Seed makes the demo repeatable; 0 picks one from the clock.
	Seed uint64
	// MinGap and MaxGap bound the pause between two happenings; default 5 s and 20 s.
	MinGap, MaxGap time.Duration
	// MaxPeople caps how many simulated people are in the room at once; default 6, at most 8
	// (the size of the cast).
	MaxPeople int
	// Steps stops the demo after this many happenings; 0 runs until ctx is done.
	Steps int
	// OnAction, when set, is told each happening ("join Alice Martin", "present 张伟", …).
	OnAction func(action string)
}

// demoPeople are the demo's cast; the first is the meeting's chair.
var demoPeople = []string{
	"Alice Martin", "Bob Okafor", "张伟", "Carol Nguyen", "Dmitri Petrov",
	"Priya Sharma", "Lucas Silva", "Fatima Zahra",
}

// demoRegulars are the cast members the getting-started text and the README name: they stay in
// the room, so whenever a newcomer types `mute 张` someone answers to it. If the user kicks or
// transfers one, they are the next to join again.
var demoRegulars = []string{"Alice Martin", "张伟"}

func isRegular(name string) bool {
	for _, r := range demoRegulars {
		if r == name {
			return true
		}
	}
	return false
}

var demoLines = []string{
	"Morning all!", "Can everyone hear me?", "I'll share my screen in a sec.",
	"Sorry, was on mute.", "Let's take that offline.", "Notes are in the doc.",
	"大家好！", "Back in two minutes.",
}

// AddDemoRoom adds (or returns) the demo room: alias "demo", number 1234567, host PIN 1234,
// guest PIN 5678, named "Demo stand-up".
func (s *Server) AddDemoRoom() *Room {
	s.init()
	if r := s.Room(DemoAlias); r != nil {
		return r
	}
	return s.AddRoom(RoomConfig{Number: DemoNumber, Alias: DemoAlias, Name: DemoName, HostPIN: DemoHostPIN, GuestPIN: DemoGuestPIN})
}

// RunDemo animates the demo room (adding it first) until ctx is done or opts.Steps happenings
// have passed: two people are there at once, then every MinGap–MaxGap someone joins, leaves,
// speaks, chats, or starts or stops presenting, at a human pace. The opening two are Alice
// Martin, the chair, and 张伟, whom the getting-started text names; they never leave, and
// come back at the next happening after a kick. The first happening is a join
// and at most two in a row are ones a channel would not announce (speaking, chat), so a linked
// channel hears something within a minute. It returns nil when ctx ends.
//
// Call AddDemoRoom first when something may look the room up before RunDemo's goroutine runs.
func (s *Server) RunDemo(ctx context.Context, opts DemoOptions) error {
	if opts.MinGap <= 0 {
		opts.MinGap = 5 * time.Second
	}
	if opts.MaxGap < opts.MinGap {
		opts.MaxGap = max(opts.MinGap, 20*time.Second)
	}
	if opts.MaxPeople <= 1 {
		opts.MaxPeople = 6
	}
	opts.MaxPeople = min(opts.MaxPeople, len(demoPeople))
	seed := opts.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	d := &demo{room: s.AddDemoRoom(), rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), opts: opts, in: map[string]string{}}
	// The getting-started text suggests `mute 张`: the opening cast has someone to find by it.
	for _, name := range demoRegulars {
		d.joinAs(name)
	}
	for step := 0; opts.Steps == 0 || step < opts.Steps; step++ {
		gap := opts.MinGap + time.Duration(d.rnd.Int64N(int64(opts.MaxGap-opts.MinGap)+1))
		t := time.NewTimer(gap)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		d.step()
	}
	return nil
}

type demo struct {
	room      *Room
	rnd       *rand.Rand
	opts      DemoOptions
	in        map[string]string // name → uuid of the cast members in the room
	order     []string          // names in the room, in joining order
	presenter string
	steps     int
	quiet     int // happenings in a row a channel would not announce (speak, chat)
}

func (d *demo) tell(action string) {
	d.room.srv.log.Debug("sim demo", "action", action)
	if d.opts.OnAction != nil {
		d.opts.OnAction(action)
	}
}

// sync forgets cast members someone else removed (a kick from the bot, a transfer).
func (d *demo) sync() {
	kept := d.order[:0]
	for _, name := range d.order {
		if _, ok := d.room.Participant(d.in[name]); ok {
			kept = append(kept, name)
		} else {
			delete(d.in, name)
			if d.presenter == name {
				d.presenter = ""
			}
		}
	}
	d.order = kept
}

func (d *demo) step() {
	d.sync()
	n := len(d.order)
	x := d.rnd.IntN(100)
	if d.quiet >= 2 {
		x = x * 70 / 100 // something a channel announces: a join, a leave or a presentation
	}
	d.quiet++
	switch {
	case d.steps == 0 || n < 2 || d.regularMissing() || (n < d.opts.MaxPeople && x < 30):
		d.join()
		d.quiet = 0
	case n > 2 && x < 55 && d.canLeave():
		d.leave()
		d.quiet = 0
	case x < 70:
		d.present()
		d.quiet = 0
	case x < 90:
		d.speak()
	default:
		d.chat()
	}
	d.steps++
	if d.presenter != "" {
		// Every other happening the presenter moves on a slide; in between the picture stays.
		if d.steps%2 == 0 {
			d.room.NextSlide()
		} else {
			d.room.Frame()
		}
	}
}

func (d *demo) pick() string { return d.order[d.rnd.IntN(len(d.order))] }

// regularMissing reports whether a regular is out of the room (someone kicked them).
func (d *demo) regularMissing() bool {
	for _, name := range demoRegulars {
		if _, ok := d.in[name]; !ok {
			return true
		}
	}
	return false
}

// canLeave reports whether someone other than a regular is in the room to leave.
func (d *demo) canLeave() bool {
	for _, name := range d.order {
		if !isRegular(name) {
			return true
		}
	}
	return false
}

// join brings in a missing regular first, else someone of the cast not in the room.
func (d *demo) join() {
	for _, name := range demoRegulars {
		if _, ok := d.in[name]; !ok {
			d.joinAs(name)
			return
		}
	}
	var out []string
	for _, name := range demoPeople {
		if _, ok := d.in[name]; !ok {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return
	}
	d.joinAs(out[d.rnd.IntN(len(out))])
}

// joinAs brings one member of the cast into the room.
func (d *demo) joinAs(name string) {
	role := "guest"
	if name == demoPeople[0] {
		role = "chair"
	}
	proto := []string{"webrtc", "webrtc", "webrtc", "sip"}[d.rnd.IntN(4)]
	d.in[name] = d.room.Join(ParticipantSpec{Name: name, Role: role, Protocol: proto})
	d.order = append(d.order, name)
	d.tell("join " + name)
}

// leave takes someone out of the room, never a regular.
func (d *demo) leave() {
	var out []string
	for _, name := range d.order {
		if !isRegular(name) {
			out = append(out, name)
		}
	}
	name := out[d.rnd.IntN(len(out))]
	d.room.Leave(d.in[name])
	delete(d.in, name)
	for i, n := range d.order {
		if n == name {
			d.order = append(d.order[:i], d.order[i+1:]...)
			break
		}
	}
	if d.presenter == name {
		d.presenter = ""
	}
	d.tell("leave " + name)
}

func (d *demo) present() {
	if d.presenter != "" {
		d.room.Present(d.in[d.presenter], false)
		d.tell("stop presenting " + d.presenter)
		d.presenter = ""
		return
	}
	name := d.pick()
	d.room.Present(d.in[name], true)
	d.presenter = name
	d.tell("present " + name)
}

func (d *demo) speak() {
	name := d.pick()
	d.room.Speak(d.in[name])
	d.tell("speak " + name)
}

func (d *demo) chat() {
	name := d.pick()
	d.room.Chat(d.in[name], demoLines[d.rnd.IntN(len(demoLines))])
	d.tell("chat " + name)
}
