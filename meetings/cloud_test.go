package meetings_test

import (
	"testing"

	"github.com/meetbot/meetbot/meetings"
)

// TestCloudDetection covers the answers in between: a node that sends some of the fields private
// nodes lack is not enough to tell, and the link's default (MEET_CLOUD) decides.
func TestCloudDetection(t *testing.T) {
	for _, tc := range []struct {
		present []string
		want    meetings.Cloud
	}{
		{nil, meetings.PrivateCloud},
		{[]string{"token", "role"}, meetings.PrivateCloud},
		{[]string{"stun", "analytics_enabled", "current_service_type"}, meetings.PublicCloud},
		{[]string{"stun"}, ""},
		{[]string{"analytics_enabled", "current_service_type"}, ""},
	} {
		info := meetings.SessionInfo{Present: map[string]bool{}}
		for _, f := range tc.present {
			info.Present[f] = true
		}
		if got := info.Cloud(); got != tc.want {
			t.Errorf("fields %v: Cloud() = %q, want %q", tc.present, got, tc.want)
		}
	}
}
