package slack

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestManifests keeps deploy/slack-manifest*.yaml in step with the endpoints Register serves and
// the Web API methods the adapter calls.
func TestManifests(t *testing.T) {
	scopes := []string{"- commands", "- chat:write ", "- chat:write.public", "- users:read", "- usergroups:read",
		"- app_uninstalled", "- tokens_revoked", "command: /meet",
		"- calls:read", "- calls:write", "- channels:read", "- groups:read", "- files:write", "- app_home_opened", "home_tab_enabled: true"}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	httpManifest := read("slack-manifest.yaml")
	mux := http.NewServeMux()
	a, err := New(Config{BotToken: "xoxb-1", SigningSecret: "s"}, &recorder{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Register(mux)
	for _, path := range []string{"/slack/commands", "/slack/interactions", "/slack/events"} {
		if !strings.Contains(httpManifest, "https://meetbot.example.com"+path) {
			t.Errorf("slack-manifest.yaml lacks %s", path)
		}
		if _, pattern := mux.Handler(&http.Request{Method: http.MethodPost, URL: mustURL(path)}); pattern == "" {
			t.Errorf("Register does not serve %s", path)
		}
	}
	if !strings.Contains(httpManifest, "socket_mode_enabled: false") {
		t.Error("slack-manifest.yaml should not enable Socket Mode")
	}
	socket := read("slack-manifest-socket.yaml")
	if !strings.Contains(socket, "socket_mode_enabled: true") || strings.Contains(socket, "url:") {
		t.Error("slack-manifest-socket.yaml should enable Socket Mode and name no URL")
	}
	for _, m := range []string{httpManifest, socket} {
		for _, s := range scopes {
			if !strings.Contains(m, s) {
				t.Errorf("manifest lacks %q", s)
			}
		}
	}
}
