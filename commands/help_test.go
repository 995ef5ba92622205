package commands

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meetbot/meetbot/chat"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(strings.TrimSuffix(string(want), "\n"), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", name, diff)
	}
}

func TestHelpGolden(t *testing.T) {
	g := newRegistry()
	golden(t, "help.golden", helpList(g, false))
	golden(t, "help_private.golden", helpList(g, true))
	mute, _ := g.lookup("mute")
	golden(t, "help_mute.golden", helpCommand(mute, false))
	layout, _ := g.lookup("layout")
	golden(t, "help_layout_private.golden", helpCommand(layout, true))
}

// The command table of the design is a contract: every command of it is in the registry with the
// same words and rights.
func TestRegistryMatchesDesignTable(t *testing.T) {
	g := newRegistry()
	want := map[string]chat.Rights{
		"link": chat.Admin, "unlink": chat.Admin, "status": chat.Member, "who": chat.Member, "list": chat.Member,
		"mute": chat.Host, "unmute": chat.Host, "vmute": chat.Host, "unvmute": chat.Host, "kick": chat.Host,
		"end": chat.Host, "lock": chat.Host, "unlock": chat.Host, "admit": chat.Host, "start": chat.Host,
		"dial": chat.Host, "spotlight": chat.Host, "unspotlight": chat.Host, "layout": chat.Host,
		"say": chat.Member, "dtmf": chat.Host, "role": chat.Host, "transfer": chat.Host,
		"presentation": chat.Host, "delay": chat.Host, "schedule": chat.Host, "schedules": chat.Host,
		"unschedule": chat.Host, "notify": chat.Admin, "help": chat.Anyone,
		"timezone": chat.Admin, "audit": chat.Admin,
	}
	for word, rights := range want {
		c, ok := g.lookup(word)
		if !ok {
			t.Errorf("%s is not in the registry", word)
			continue
		}
		if c.rights != rights {
			t.Errorf("%s needs %s, want %s", word, c.rights, rights)
		}
	}
	for _, c := range g.commands {
		if c.summary == "" || c.help == "" || len(c.usage) == 0 || len(c.examples) == 0 || c.run == nil {
			t.Errorf("%s lacks help, usage, examples or a handler", c.name)
		}
		for _, u := range c.usage {
			if !strings.HasPrefix(u, c.name) {
				t.Errorf("%s: usage %q does not start with the name", c.name, u)
			}
		}
		if c.nameArg >= 0 && c.maxArgs >= 0 && c.nameArg >= c.maxArgs {
			t.Errorf("%s: name argument %d beyond its %d arguments", c.name, c.nameArg, c.maxArgs)
		}
	}
	if _, ok := g.lookup("ＭＵＴＥ"); !ok {
		t.Error("full-width MUTE does not find mute")
	}
}
