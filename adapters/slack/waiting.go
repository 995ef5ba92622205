package slack

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	slackgo "github.com/slack-go/slack"

	"github.com/meetbot/meetbot/chat"
)

// Waiting-room alerts. When someone waits to be admitted, the channel gets one message per
// burst ("Bob is waiting to be admitted") with Admit and Admit all buttons; those who join the
// waiting room while it is open are added to it, and it is edited as each is admitted or leaves,
// so the channel holds no stale requests. Once nobody it names is waiting any more, it is closed
// and the next arrival starts a new one. The buttons run `admit id:<uuid>` and `admit all`
// through the core like any press, so only hosts can admit.
//
// A meeting that waits for a host (started: false) gets one message per occurrence instead:
// "3 people are waiting for a host in Weekly sync", edited once a host has started it.

// kindWaiting marks the blocks of a waiting-room alert.
const kindWaiting = "w"

// maxWaitersShown is how many people an alert lists with their own Admit button.
const maxWaitersShown = 20

type waiterState int

const (
	stillWaiting waiterState = iota
	wasAdmitted
	leftWaiting
)

type waiter struct {
	uuid, name string
	state      waiterState
	by         string // Slack user id of the host who admitted them from the alert, if known
}

// waitAlert is the open waiting-room message of a channel.
type waitAlert struct {
	msg     *statusMsg
	meeting string
	order   []*waiter
	byUUID  map[string]*waiter
}

// hostAlert is the "waiting for a host" message of one occurrence.
type hostAlert struct {
	key     string // the occurrence it was said for
	msg     *statusMsg
	meeting string
	count   int
	started bool
}

// waitingAlerts brings the channel's waiting-room messages up to date with m. st.mu is held. A
// new message is posted at most once per burst; a refusal to post comes back to the relay,
// which retries the notification (and so the alert); edits run in the background.
func (a *Adapter) waitingAlerts(ctx context.Context, st *channelState, ch chat.ChannelRef, m chat.MeetingState) error {
	if err := a.hostAlerts(ctx, st, ch, m); err != nil {
		return err
	}
	var waiting []chat.Person
	if !m.WaitingForHost && !m.Ended {
		for _, p := range m.People {
			if p.Waiting && p.UUID != "" {
				waiting = append(waiting, p)
			}
		}
	}
	wa := st.waiting
	if wa == nil {
		if len(waiting) == 0 {
			return nil
		}
		wa = &waitAlert{meeting: meetingName(m), byUUID: map[string]*waiter{}}
		for _, p := range waiting {
			wa.add(p)
		}
		msg := renderWaiting(wa)
		ts, err := a.postMessage(ctx, ch, msg, "")
		if err != nil {
			return err
		}
		wa.msg = &statusMsg{ch: ch, ts: ts, have: keyOf(msg)}
		st.waiting = wa
		return nil
	}
	now := map[string]bool{}
	for _, p := range waiting {
		now[p.UUID] = true
		if w, ok := wa.byUUID[p.UUID]; !ok {
			wa.add(p)
		} else if w.state != stillWaiting {
			w.state = stillWaiting // back in the waiting room (moved out and in again)
		}
	}
	inMeeting := map[string]bool{}
	for _, p := range m.People {
		if !p.Waiting {
			inMeeting[p.UUID] = true
		}
	}
	open := false
	for _, w := range wa.order {
		if w.state == stillWaiting && !now[w.uuid] {
			if inMeeting[w.uuid] {
				w.state = wasAdmitted
			} else {
				w.state = leftWaiting
			}
		}
		open = open || w.state == stillWaiting
	}
	a.editStatus(wa.msg, renderWaiting(wa))
	if !open {
		st.waiting = nil // the burst is over; the next arrival gets a new message
	}
	return nil
}

func (wa *waitAlert) add(p chat.Person) {
	w := &waiter{uuid: p.UUID, name: p.Name}
	wa.order = append(wa.order, w)
	wa.byUUID[p.UUID] = w
}

// hostAlerts says once per occurrence that people wait for a host, edits that message as their
// number changes, and once more when the meeting has started.
func (a *Adapter) hostAlerts(ctx context.Context, st *channelState, ch chat.ChannelRef, m chat.MeetingState) error {
	key := m.Occurrence
	if key == "" {
		key = meetingName(m) + "@" + strconv.FormatInt(m.Started.Unix(), 10)
	}
	ha := st.hostWait
	count := len(m.People)
	if count == 0 {
		count = len(m.Present)
	}
	if m.WaitingForHost && !m.Ended && count > 0 && (ha == nil || ha.key != key) {
		ha = &hostAlert{key: key, meeting: meetingName(m), count: count}
		msg := renderHostWait(ha)
		ts, err := a.postMessage(ctx, ch, msg, "")
		if err != nil {
			return err
		}
		ha.msg = &statusMsg{ch: ch, ts: ts, have: keyOf(msg)}
		st.hostWait = ha
		return nil
	}
	if ha == nil || ha.key != key || ha.started {
		return nil
	}
	switch {
	case !m.WaitingForHost || m.Ended:
		ha.started = true
	case count > 0 && count != ha.count:
		ha.count = count // more (or fewer) wait: the same message says so
	default:
		return nil
	}
	a.editStatus(ha.msg, renderHostWait(ha))
	return nil
}

// admittedFromAlert records that user admitted, from an alert's button, the person named by
// command ("admit id:<uuid>", or everyone waiting for "admit all"), and edits the alert at once.
// It reports whether the open alert named anyone it admitted.
func (a *Adapter) admittedFromAlert(ch chat.ChannelRef, command, user string) bool {
	st := a.channelState(ch)
	st.mu.Lock()
	defer st.mu.Unlock()
	wa := st.waiting
	if wa == nil {
		return false
	}
	all := command == "admit all"
	uuid, isID := strings.CutPrefix(command, "admit id:")
	changed := false
	open := false
	for _, w := range wa.order {
		if w.state == stillWaiting && (all || (isID && w.uuid == uuid)) {
			w.state, w.by, changed = wasAdmitted, user, true
		}
		open = open || w.state == stillWaiting
	}
	if !changed {
		return false
	}
	a.editStatus(wa.msg, renderWaiting(wa))
	if !open {
		st.waiting = nil
	}
	return true
}

// validUUID reports whether id can go on a button as "admit id:<id>".
func validUUID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// renderWaiting renders a waiting-room alert: a line per person (with an Admit button while
// they wait), then Admit all while anyone does.
func renderWaiting(wa *waitAlert) message {
	var blocks []slackgo.Block
	var waitingNames []string
	for i, w := range wa.order {
		if w.state == stillWaiting {
			waitingNames = append(waitingNames, w.name)
		}
		if i >= maxWaitersShown {
			continue
		}
		name := "*" + nameText(w.name) + "*"
		var line string
		switch w.state {
		case stillWaiting:
			line = ":hourglass_flowing_sand: " + name + " is waiting to be admitted"
		case wasAdmitted:
			line = ":white_check_mark: " + name + " was admitted"
			if w.by != "" {
				line += " by <@" + w.by + ">"
			}
		case leftWaiting:
			line = ":wave: " + name + " left the waiting room"
		}
		line = truncateEscaped(line, maxSectionText)
		sec := slackgo.NewSectionBlock(mrkdwn(line), nil, nil)
		if w.state == stillWaiting && validUUID(w.uuid) {
			sec = slackgo.NewSectionBlock(mrkdwn(line), nil,
				slackgo.NewAccessory(button(kindWaiting, i, 0, chat.Action{Label: "Admit", Command: "admit id:" + w.uuid}, "")),
				slackgo.SectionBlockOptionBlockID(blockID(kindWaiting, i, "")))
		}
		blocks = append(blocks, sec)
	}
	if rest := len(wa.order) - maxWaitersShown; rest > 0 {
		blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(fmt.Sprintf("…and %d more", rest))))
	}
	if len(waitingNames) > 0 {
		all := button(kindWaiting, len(wa.order), 0, chat.Action{Label: "Admit all", Command: "admit all"}, "")
		blocks = append(blocks, slackgo.NewActionBlock(blockID(kindWaiting, len(wa.order), ""), all.WithStyle(slackgo.StylePrimary)))
	}
	blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(truncateEscaped("Waiting room of "+nameText(wa.meeting), 2000)+" · only hosts can admit")))
	var text string
	switch len(waitingNames) {
	case 0:
		text = "Nobody is waiting to be admitted to " + nameText(wa.meeting) + " any more"
	case 1:
		text = nameText(waitingNames[0]) + " is waiting to be admitted"
	case 2:
		text = nameText(waitingNames[0]) + " and " + nameText(waitingNames[1]) + " are waiting to be admitted"
	default:
		text = fmt.Sprintf("%s and %d others are waiting to be admitted", nameText(waitingNames[0]), len(waitingNames)-1)
	}
	return message{Text: truncateEscaped(text, maxSectionText), Blocks: blocks}
}

// renderHostWait renders the "waiting for a host" message, and what it becomes once a host has
// started the meeting.
func renderHostWait(ha *hostAlert) message {
	people := "1 person is"
	if ha.count != 1 {
		people = fmt.Sprintf("%d people are", ha.count)
	}
	if ha.started {
		text := nameText(ha.meeting) + " has started"
		return message{Text: text, Blocks: []slackgo.Block{
			slackgo.NewSectionBlock(mrkdwn(truncateEscaped(":white_check_mark: *"+nameText(ha.meeting)+"* has started", maxSectionText)), nil, nil),
		}}
	}
	text := truncateEscaped(fmt.Sprintf("%s waiting for a host in %s", people, nameText(ha.meeting)), maxSectionText-30)
	start := button(kindWaiting, 0, 1, chat.Action{Label: "Start meeting", Command: "start"}, "")
	return message{Text: text, Blocks: []slackgo.Block{
		slackgo.NewSectionBlock(mrkdwn(":hourglass_flowing_sand: "+text), nil, nil),
		slackgo.NewActionBlock(blockID(kindWaiting, 1, "host"), start.WithStyle(slackgo.StylePrimary)),
	}}
}
