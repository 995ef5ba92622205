package main

import (
	"errors"
	"testing"

	"github.com/meetbot/meetbot/joinurl"
)

// TestJoinURLSetting reads MEET_JOIN_URL and refuses a bad template with one line naming it.
func TestJoinURLSetting(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			switch k {
			case "MEET_API_SERVER":
				return "https://api.example.cn"
			case "MEET_JOIN_URL":
				return v
			}
			return ""
		}
	}
	c, err := loadConfig(env("https://meet.example.cn/webapp/#/?conference={alias}"))
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := c.JoinURL.Expand(joinurl.Fields{Alias: "weekly sync"}); !ok || u != "https://meet.example.cn/webapp/#/?conference=weekly%20sync" {
		t.Errorf("expanded %q, %v", u, ok)
	}
	if c, err := loadConfig(env("")); err != nil || !c.JoinURL.IsZero() {
		t.Errorf("unset: %v, %v", c.JoinURL, err)
	}
	_, err = loadConfig(env("https://meet.example.cn/{pin}"))
	var se *SettingError
	if !errors.As(err, &se) || se.Name != "MEET_JOIN_URL" {
		t.Errorf("bad template: %v, want a MEET_JOIN_URL setting error", err)
	}
}
