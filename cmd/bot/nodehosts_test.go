package main

import (
	"errors"
	"slices"
	"testing"
)

// MEET_NODE_HOSTS is read as a list of host names and suffixes; anything else stops start-up
// with one line naming the setting.
func TestNodeHostsSetting(t *testing.T) {
	env := func(v string) func(string) string {
		return func(name string) string {
			if name == "MEET_NODE_HOSTS" {
				return v
			}
			return ""
		}
	}
	c, err := loadConfig(env(".example.cn, node1.other.cn *.nodes.cn"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".example.cn", "node1.other.cn", "*.nodes.cn"}; !slices.Equal(c.NodeHosts, want) {
		t.Errorf("NodeHosts = %q, want %q", c.NodeHosts, want)
	}
	if c, err := loadConfig(env("")); err != nil || len(c.NodeHosts) != 0 {
		t.Errorf("unset: NodeHosts = %q, %v; want none", c.NodeHosts, err)
	}
	for _, bad := range []string{"https://node1.example.cn", "node1.example.cn:443", "example.cn/path", "."} {
		_, err := loadConfig(env(bad))
		var se *SettingError
		if !errors.As(err, &se) || se.Name != "MEET_NODE_HOSTS" {
			t.Errorf("MEET_NODE_HOSTS=%q: %v, want a SettingError naming it", bad, err)
		}
	}
}
