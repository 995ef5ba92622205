package storeurl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/pgtest"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/storetest"
)

func TestOpenSQLiteFile(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "nested", "meetbot.db")
	key := storetest.NewKey(t)
	s, err := Open(ctx, "sqlite:"+path, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := chat.ChannelRef{Platform: "console", Channel: "console"}
	if err := s.PutValue(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("sqlite:PATH did not create the database and its folder: %v", err)
	}
	s, err = Open(ctx, "sqlite:"+path, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.GetValue(ctx, "k"); err != nil || v != "v" {
		t.Errorf("value after reopening the file = %q, %v", v, err)
	}
	if _, err := s.GetLink(ctx, ch); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetLink = %v, want ErrNotFound", err)
	}
}

// TestOpenSQLiteMemory checks that sqlite::memory: is one database for the whole pool, however
// many goroutines use it, and that two opens do not share one.
func TestOpenSQLiteMemory(t *testing.T) {
	ctx := t.Context()
	key := storetest.NewKey(t)
	a, err := Open(ctx, "sqlite::memory:", key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, "sqlite::memory:", key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ch := chat.ChannelRef{Platform: "matrix", Channel: fmt.Sprintf("!r%d:example.org", i)}
			l := store.Link{Channel: ch, Meeting: store.MeetingRef{APIServer: "https://api", Room: "1"}, PIN: "1234", Role: "HOST"}
			if err := a.PutLink(ctx, l); err != nil {
				t.Error(err)
				return
			}
			if _, err := a.GetLink(ctx, ch); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	all, err := a.AllLinks(ctx)
	if err != nil || len(all) != n {
		t.Errorf("AllLinks of the memory store = %d links, %v; want %d", len(all), err, n)
	}
	if all, err := b.AllLinks(ctx); err != nil || len(all) != 0 {
		t.Errorf("a second sqlite::memory: store sees %d links (%v), want its own empty database", len(all), err)
	}
}

func TestOpenPostgres(t *testing.T) {
	// Only opening by URL is checked here; the conformance suite runs in store/postgres. The
	// test's own schema is chosen by a search_path parameter in the URL, which pgx passes on.
	schema := pgtest.Schema(t, "t")
	url := pgtest.ServerURL(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	s, err := Open(ctx, url+sep+"search_path="+schema, storetest.NewKey(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutValue(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+schema+".kv").Scan(&n); err != nil || n != 1 {
		t.Errorf("the store did not write to its schema: %d rows, %v", n, err)
	}
}

func TestOpenErrors(t *testing.T) {
	key := storetest.NewKey(t)
	tests := []struct {
		name, url string
		key       []byte
		want      string // the error names this
		urlErr    bool   // the error is a *URLError
	}{
		{"empty", "", key, "STORE_URL", true},
		{"unknown scheme", "mysql://root:hunter2@db/meetbot", key, `STORE_URL: unsupported scheme "mysql"`, true},
		{"no scheme", "data/meetbot.db", key, "STORE_URL", true},
		{"sqlite without path", "sqlite:", key, "STORE_URL", true},
		{"sqlite uri", "sqlite:file:x.db?mode=ro", key, "STORE_URL", true},
		{"bad postgres url", "postgres://u:hunter2@host:notaport/db", key, "STORE_URL", true},
		{"sqlite folder is a file", "sqlite:" + filepath.Join(blocker(t), "meetbot.db"), key, "STORE_URL (sqlite)", false},
		{"short key", "sqlite::memory:", key[:16], "MEETBOT_SECRET_KEY", false},
		{"no key", "sqlite::memory:", nil, "MEETBOT_SECRET_KEY", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.Context(), tt.url, tt.key, nil)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tt.url)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q) error %q does not name %q", tt.url, err, tt.want)
			}
			var ue *URLError
			if errors.As(err, &ue) != tt.urlErr {
				t.Errorf("Open(%q) error %v: *URLError %v, want %v", tt.url, err, !tt.urlErr, tt.urlErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Open error reveals the password: %v", err)
			}
		})
	}
}

// blocker returns a path that is a file, so nothing can be made under it.
func blocker(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
