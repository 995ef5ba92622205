package relay

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
)

func join(uuid, name, role string) notice {
	return notice{kind: chat.Joined, who: uuid, name: name, role: role}
}
func leave(uuid, name string) notice { return notice{kind: chat.Left, who: uuid, name: name} }
func present(name string, on bool) notice {
	if on {
		return notice{kind: chat.PresentationStarted, name: name}
	}
	return notice{kind: chat.PresentationStopped, name: name}
}

func TestCoalesceText(t *testing.T) {
	many := func(n int) []notice {
		var ns []notice
		for i := range n {
			ns = append(ns, join(fmt.Sprint("u", i), fmt.Sprint("P", i), "guest"))
		}
		return ns
	}
	tests := []struct {
		name  string
		batch []notice
		want  string
		kinds []chat.NoticeKind
	}{
		{"OneJoin", []notice{join("a", "Alice", "guest")}, "Alice joined (guest)", []chat.NoticeKind{chat.Joined}},
		{"HostJoin", []notice{join("a", "Alice", "host")}, "Alice joined (host)", []chat.NoticeKind{chat.Joined}},
		{"TwoJoins", []notice{join("a", "Alice", "guest"), join("b", "Bob", "host")}, "Alice and Bob joined", nil},
		{"ThreeJoins", many(3), "P0, P1 and P2 joined", nil},
		{"FourteenJoins", many(14), "P0, P1 and 12 others joined", nil},
		{"OneLeave", []notice{leave("a", "Alice")}, "Alice left", nil},
		// A name cannot fake a line of its own (issue 11): line breaks become spaces.
		{"NameWithLineBreak", []notice{join("x", "x\n:lock: Locked", "guest")}, "x :lock: Locked joined (guest)", nil},
		{"ChatWithLineBreak", []notice{{kind: chat.ChatMessage, who: "a", name: "Alice", text: "hi\n* Bob left"}}, "Alice: hi * Bob left", nil},
		{"Presenting", []notice{present("Carol", true)}, "Carol started presenting", nil},
		{"StoppedPresenting", []notice{present("Carol", false)}, "Carol stopped presenting", nil},
		{"KindsOnTheirOwnLines", []notice{
			join("a", "Alice", "guest"), leave("c", "Carol"), join("b", "Bob", "guest"), present("Dan", true), leave("d", "Dave"),
		}, "Alice and Bob joined\nCarol and Dave left\nDan started presenting",
			[]chat.NoticeKind{chat.Joined, chat.Left, chat.PresentationStarted}},
		{"JoinThenLeaveSamePerson", []notice{join("a", "Alice", "guest"), leave("a", "Alice")},
			"Alice joined (guest)\nAlice left", []chat.NoticeKind{chat.Joined, chat.Left}},
		{"LeaveThenRejoin", []notice{join("b", "Bob", "guest"), leave("a", "Alice"), join("a2", "Alice", "guest")},
			// Alice's new call has a new uuid: the two joins may share a line.
			"Bob and Alice joined\nAlice left", nil},
		{"RejoinSameUUIDKeepsOrder", []notice{join("a", "Alice", "guest"), leave("a", "Alice"), join("b", "Bob", "guest"), join("a", "Alice", "guest")},
			"Alice and Bob joined\nAlice left\nAlice joined (guest)", nil},
		{"PresentationByNameKeepsOrder", []notice{present("Carol", true), present("Carol", false), present("Carol", true)},
			"Carol started presenting\nCarol stopped presenting\nCarol started presenting", nil},
		{"ChatLines", []notice{
			{kind: chat.ChatMessage, who: "a", name: "Alice", text: "hi"}, {kind: chat.ChatMessage, who: "b", name: "Bob", text: "hello"},
		}, "Alice: hi\nBob: hello", []chat.NoticeKind{chat.ChatMessage}},
		{"NoName", []notice{join("a", "", "guest")}, "(no name) joined (guest)", nil},
		{"NamesAreData", []notice{join("a", "<!channel>", "guest"), join("b", "@room", "guest")}, "<!channel> and @room joined", nil},
	}
	all := store.ChannelSettings{Joins: true, Leaves: true, Presentations: true, Chat: true}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := coalesce(tc.batch, all)
			if !ok {
				t.Fatal("nothing to post")
			}
			if diff := cmp.Diff(tc.want, n.Text); diff != "" {
				t.Errorf("text (-want +got):\n%s", diff)
			}
			if tc.kinds != nil {
				if diff := cmp.Diff(tc.kinds, n.Kinds); diff != "" {
					t.Errorf("kinds (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestCoalesceFollowsSettings(t *testing.T) {
	batch := []notice{
		join("a", "Alice", "guest"), leave("b", "Bob"), present("Carol", true),
		{kind: chat.ChatMessage, who: "a", name: "Alice", text: "hi"},
	}
	tests := []struct {
		name string
		set  store.ChannelSettings
		want string
	}{
		{"Defaults", store.DefaultSettings(), "Alice joined (guest)\nBob left\nCarol started presenting"},
		{"JoinsOff", store.ChannelSettings{Leaves: true, Presentations: true}, "Bob left\nCarol started presenting"},
		{"OnlyChat", store.ChannelSettings{Chat: true}, "Alice: hi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := coalesce(batch, tc.set)
			if !ok {
				t.Fatal("nothing to post")
			}
			if n.Text != tc.want {
				t.Errorf("text = %q, want %q", n.Text, tc.want)
			}
			if n.Threaded != tc.set.Threaded {
				t.Errorf("Threaded = %v, want the channel's %v", n.Threaded, tc.set.Threaded)
			}
		})
	}
	t.Run("AllOff", func(t *testing.T) {
		if n, ok := coalesce(batch, store.ChannelSettings{}); ok {
			t.Errorf("posted %q to a channel that wants nothing", n.Text)
		}
	})
	t.Run("EndAlwaysPosted", func(t *testing.T) {
		n, ok := coalesce([]notice{{kind: chat.MeetingEnded, text: "The meeting ended"}}, store.ChannelSettings{})
		if !ok || n.Text != "The meeting ended" {
			t.Errorf("got %q, %v", n.Text, ok)
		}
	})
}

func TestCoalesceMeetingStateIsLatest(t *testing.T) {
	a := join("a", "Alice", "guest")
	a.seq, a.state = 1, chat.MeetingState{Present: []string{"Alice"}}
	b := leave("a", "Alice")
	b.seq, b.state = 2, chat.MeetingState{Total: 1}
	// The channel hears only joins, but the state must be the one after the leave.
	n, _ := coalesce([]notice{a, b}, store.ChannelSettings{Joins: true})
	if diff := cmp.Diff(b.state, n.Meeting); diff != "" {
		t.Errorf("meeting state (-want +got):\n%s", diff)
	}
}

// FuzzCoalesce checks, for any sequence of events, that a message accounts for every event
// exactly once and keeps each person's events in order.
func FuzzCoalesce(f *testing.F) {
	f.Add([]byte{0, 1, 16, 17, 0, 33, 49})
	f.Add([]byte{0, 16, 0, 16, 0})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	kinds := []chat.NoticeKind{chat.Joined, chat.Left, chat.PresentationStarted, chat.PresentationStopped}
	verbs := map[chat.NoticeKind]string{chat.Joined: "joined", chat.Left: "left",
		chat.PresentationStarted: "started presenting", chat.PresentationStopped: "stopped presenting"}
	all := store.ChannelSettings{Joins: true, Leaves: true, Presentations: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 200 {
			return
		}
		var batch []notice
		want := map[string]int{}
		order := map[string][]string{} // person → verbs in event order
		for i, b := range data {
			k := kinds[int(b>>4)%len(kinds)]
			who := fmt.Sprintf("P%d", b&15)
			batch = append(batch, notice{seq: int64(i + 1), kind: k, who: who, name: who, role: "guest"})
			want[verbs[k]]++
			order[who] = append(order[who], verbs[k])
		}
		n, ok := coalesce(batch, all)
		if !ok {
			t.Fatal("nothing to post")
		}
		counts, _ := tally([]string{n.Text})
		for v, c := range want {
			if counts[v] != c {
				t.Fatalf("%q accounts for %d %s, want %d", n.Text, counts[v], v, c)
			}
		}
		if strings.Contains(n.Text, " others ") {
			return // names are elided: counts only
		}
		got := map[string][]string{}
		for _, line := range strings.Split(n.Text, "\n") {
			names, _, verb := countLine(line)
			for _, name := range names {
				got[name] = append(got[name], verb)
			}
		}
		for who, verbs := range order {
			if fmt.Sprint(got[who]) != fmt.Sprint(verbs) {
				t.Fatalf("%q: %s's events %v, want in order %v", n.Text, who, got[who], verbs)
			}
		}
	})
}
