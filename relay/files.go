package relay

import "github.com/meetbot/meetbot/chat"

// dropSnapshots removes the snapshots from pending: a channel that is behind gets the newest
// picture of the slides, not every one it missed. A snapshot's picture is tens of kilobytes, so
// this also keeps at most one per outbox in memory.
func dropSnapshots(pending []notice) []notice {
	out := pending[:0]
	for _, n := range pending {
		if n.kind != chat.Snapshot {
			out = append(out, n)
		}
	}
	clear(pending[len(out):]) // let the dropped pictures be collected
	return out
}

// dropOldest removes the oldest over notices from pending, keeping reports: an attendance
// report is made once, at the meeting's end, and cannot be made again from the events.
func dropOldest(pending []notice, over int) []notice {
	out := pending[:0]
	for i, n := range pending {
		if i < over && n.kind != chat.Report {
			continue
		}
		out = append(out, n)
	}
	clear(pending[len(out):])
	return out
}
