package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// buildContext lists what `docker build` would send from root, read with the same rules (and the
// same library) the Docker CLI applies to .dockerignore.
func buildContext(t *testing.T, root string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		excluded, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		if !excluded && !d.IsDir() {
			sent = append(sent, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sent
}

// TestDockerContextSendsNoSecretsStateOrBinaries plants what an operator's checkout really holds
// (a .env at the root and in deploy/ where the compose file suggests POSTGRES_PASSWORD, a data
// folder, a locally built bot, test binaries and installed tools) beside the sources, and checks
// that the build context has the sources and none of the rest.
func TestDockerContextSendsNoSecretsStateOrBinaries(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ignore, err := os.ReadFile(filepath.Join(repo, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	files := map[string]string{
		".dockerignore":                string(ignore),
		"Dockerfile":                   "FROM scratch\n",
		"go.mod":                       "module x\n",
		"go.sum":                       "",
		".env.example":                 "MEET_API_SERVER=\n",
		"cmd/bot/main.go":              "package main\n",
		"meetings/sim/testdata/a.json": "{}",
		".env":                         "MEETBOT_SECRET_KEY=secret\n",
		".env.local":                   "SLACK_BOT_TOKEN=secret\n",
		"deploy/.env":                  "POSTGRES_PASSWORD=secret\n",
		"deploy/compose.yaml":          "name: meetbot\n",
		"deploy/slack-manifest.yaml":   "display_information: {}\n",
		"data/meetbot.db":              "sqlite",
		"data/matrix/crypto.db":        "keys",
		"cmd/bot/data/meetbot.db":      "sqlite",
		"bot":                          "\x7fELF",
		"cmd/bot/bot":                  "\x7fELF",
		"commands/commands.test":       "\x7fELF",
		"cpu.prof":                     "pprof",
		".tools/bin/dendrite":          "\x7fELF",
		".git/config":                  "[core]\n",
	}
	for name, body := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sent := buildContext(t, root)
	want := []string{".dockerignore", ".env.example", "Dockerfile", "cmd/bot/main.go", "go.mod", "go.sum", "meetings/sim/testdata/a.json"}
	slices.Sort(sent)
	if !slices.Equal(sent, want) {
		t.Errorf("docker build would send\n  %q\nwant exactly\n  %q", sent, want)
	}
}

// TestDockerContextHasEveryGoSource checks the rules against the real tree: every file the build
// needs (go.mod, go.sum and each .go file and embedded file under a package) is sent.
func TestDockerContextHasEveryGoSource(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	sent := buildContext(t, repo)
	for _, need := range []string{"go.mod", "go.sum", "Dockerfile", "cmd/bot/main.go", "meetings/client.go"} {
		if !slices.Contains(sent, need) {
			t.Errorf("docker build would not send %s", need)
		}
	}
	for _, f := range sent {
		if base := filepath.Base(f); base == ".env" || filepath.Ext(f) == ".db" {
			t.Errorf("docker build would send %s", f)
		}
	}
}
