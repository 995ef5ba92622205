package slack

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
)

// TestRights documents and checks the mapping from Slack to meetbot rights (README "Rights in
// Slack"): SLACK_HOSTS users and user-group members are hosts, workspace admins and owners are
// channel admins, everyone else is a member, deactivated users have no rights.
func TestRights(t *testing.T) {
	f := newFakeSlack(t)
	f.users["UPLAIN"] = map[string]any{"id": "UPLAIN"}
	f.users["UHOST"] = map[string]any{"id": "UHOST"}
	f.users["UGROUP"] = map[string]any{"id": "UGROUP"}
	f.users["UADMIN"] = map[string]any{"id": "UADMIN", "is_admin": true}
	f.users["UOWNER"] = map[string]any{"id": "UOWNER", "is_owner": true}
	f.users["UPRIMARY"] = map[string]any{"id": "UPRIMARY", "is_primary_owner": true}
	f.users["UGONE"] = map[string]any{"id": "UGONE", "deleted": true}
	f.users["UHOSTADMIN"] = map[string]any{"id": "UHOSTADMIN", "is_admin": true}
	f.groups["SHOSTS"] = []string{"UGROUP", "UOTHER"}
	a, _ := newTestAdapter(t, f, &recorder{}, func(c *Config) { c.Hosts = []string{"UHOST", "UHOSTADMIN", "SHOSTS"} })

	cases := []struct {
		user string
		want chat.Rights
	}{
		{"UPLAIN", chat.Member},
		{"UHOST", chat.Host},
		{"UGROUP", chat.Host},
		{"UADMIN", chat.Admin},
		{"UOWNER", chat.Admin},
		{"UPRIMARY", chat.Admin},
		{"UHOSTADMIN", chat.Admin},
		{"UGONE", chat.Anyone},
		{"UNOBODY", chat.Anyone}, // users.info: user_not_found
	}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			got, err := a.Rights(context.Background(), general, chat.UserRef{ID: tc.user})
			if err != nil || got != tc.want {
				t.Errorf("Rights = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	t.Run("Cached", func(t *testing.T) {
		before := len(f.callsOf("users.info"))
		groups := len(f.callsOf("usergroups.users.list"))
		for range 3 {
			if _, err := a.Rights(context.Background(), general, chat.UserRef{ID: "UPLAIN"}); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(f.callsOf("users.info")) - before; n != 0 {
			t.Errorf("users.info called %d more times within the cache time", n)
		}
		if n := len(f.callsOf("usergroups.users.list")) - groups; n != 0 {
			t.Errorf("usergroups.users.list called %d more times within the cache time", n)
		}
	})
}

// TestRightsExpireAndFail: cached answers expire, and a failed lookup falls back to what is known
// (a host named directly stays a host) and reports the error.
func TestRightsExpireAndFail(t *testing.T) {
	f := newFakeSlack(t)
	f.users["UHOST"] = map[string]any{"id": "UHOST"}
	f.users["U1"] = map[string]any{"id": "U1"}
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	a, _ := newTestAdapter(t, f, &recorder{}, func(c *Config) {
		c.Hosts = []string{"UHOST"}
		c.Now = func() time.Time { return now }
	})
	if got, _ := a.Rights(context.Background(), general, chat.UserRef{ID: "U1"}); got != chat.Member {
		t.Fatalf("U1 = %v", got)
	}
	// U1 is made an admin; after the cache time the change shows.
	f.mu.Lock()
	f.users["U1"] = map[string]any{"id": "U1", "is_admin": true}
	f.mu.Unlock()
	if got, _ := a.Rights(context.Background(), general, chat.UserRef{ID: "U1"}); got != chat.Member {
		t.Errorf("within cache time: %v, want the cached member", got)
	}
	now = now.Add(6 * time.Minute)
	if got, _ := a.Rights(context.Background(), general, chat.UserRef{ID: "U1"}); got != chat.Admin {
		t.Errorf("after cache time: %v, want admin", got)
	}

	f.on("users.info", func(int, url.Values) (int, http.Header, string) { return 500, nil, "down" })
	now = now.Add(6 * time.Minute)
	got, err := a.Rights(context.Background(), general, chat.UserRef{ID: "UHOST"})
	if err == nil || got != chat.Host {
		t.Errorf("Slack down: %v, %v; want host and an error", got, err)
	}
	got, err = a.Rights(context.Background(), general, chat.UserRef{ID: "U1"})
	if err == nil || got != chat.Member {
		t.Errorf("Slack down: %v, %v; want member and an error", got, err)
	}
}

// TestRightsGoneWorkspace: after uninstall nobody has rights there.
func TestRightsGoneWorkspace(t *testing.T) {
	f := newFakeSlack(t)
	a, _ := newTestAdapter(t, f, &recorder{})
	a.markGone(testTeam, "app uninstalled")
	got, err := a.Rights(context.Background(), general, chat.UserRef{ID: "UHOST"})
	if got != chat.Anyone || !errors.Is(err, chat.ErrChannelGone) {
		t.Errorf("Rights = %v, %v; want anyone, ErrChannelGone", got, err)
	}
}
