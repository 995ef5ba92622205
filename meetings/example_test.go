package meetings_test

import (
	"fmt"
	"strings"

	"github.com/meetbot/meetbot/meetings"
)

// A Roster turns a recorded event stream into joins, updates and leaves. The first sync only
// sets the baseline; the second reports what changed in between.
func ExampleRoster() {
	stream := `event: participant_sync_begin
data: null

event: participant_create
data: {"uuid":"a","display_name":"Alice","is_muted":"NO"}

event: participant_sync_end
data: null

event: participant_update
data: {"uuid":"a","display_name":"Alice","is_muted":"YES"}

event: participant_create
data: {"uuid":"b","display_name":"Bob"}

event: participant_delete
data: {"uuid":"a"}

`
	r := meetings.NewRoster()
	er := meetings.NewEventReader(strings.NewReader(stream))
	for {
		ev, err := er.Next()
		if err != nil {
			break
		}
		for _, c := range r.Apply(ev) {
			fmt.Println(c.Participant.DisplayName, c.Kind)
		}
	}
	// Output:
	// Alice updated
	// Bob joined
	// Alice left
}
