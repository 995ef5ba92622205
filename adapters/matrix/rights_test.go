package matrix

import (
	"encoding/json"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/meetbot/meetbot/chat"
)

func createEvent(t *testing.T, version id.RoomVersion, sender id.UserID) *event.Event {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"room_version": version})
	evt := &event.Event{Type: event.StateCreate, Sender: sender, Content: event.Content{VeryRaw: raw}}
	if err := evt.Content.ParseRaw(event.StateCreate); err != nil {
		t.Fatal(err)
	}
	return evt
}

func TestRightsForPowerLevels(t *testing.T) {
	intp := func(i int) *int { return &i }
	const (
		creator = id.UserID("@creator:x")
		admin   = id.UserID("@admin:x")
		mod     = id.UserID("@mod:x")
		member  = id.UserID("@member:x")
	)
	pl := func(create *event.Event) *event.PowerLevelsEventContent {
		return &event.PowerLevelsEventContent{
			Users:           map[id.UserID]int{admin: 100, mod: 50},
			StateDefaultPtr: intp(60),
			KickPtr:         intp(50),
			CreateEvent:     create,
		}
	}
	v10 := createEvent(t, "10", creator)
	v12 := createEvent(t, "12", creator)
	for _, tc := range []struct {
		name   string
		pl     *event.PowerLevelsEventContent
		create *event.Event
		user   id.UserID
		member bool
		want   chat.Rights
	}{
		{"above state level is channel admin", pl(v10), v10, admin, true, chat.Admin},
		{"kick level is host", pl(v10), v10, mod, true, chat.Host},
		{"no power is member", pl(v10), v10, member, true, chat.Member},
		{"not in the room is anyone", pl(v10), v10, admin, false, chat.Anyone},
		{"v10 creator has only listed power", pl(v10), v10, creator, true, chat.Member},
		{"v12 creator has unlimited power", pl(v12), v12, creator, true, chat.Admin},
		{"no power levels: creator", nil, v10, creator, true, chat.Admin},
		{"no power levels: others", nil, v10, member, true, chat.Member},
		{"defaults: 50 is admin", &event.PowerLevelsEventContent{Users: map[id.UserID]int{mod: 50}}, nil, mod, true, chat.Admin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rightsFor(tc.pl, tc.create, tc.user, tc.member); got != tc.want {
				t.Errorf("rightsFor(%s) = %v, want %v", tc.user, got, tc.want)
			}
		})
	}
}
