package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/storetest"
)

// newTestDB gives each test its own database file in a temporary folder.
func newTestDB(tb testing.TB) storetest.Opener {
	path := filepath.Join(tb.TempDir(), "data", "meetbot.db")
	return func(ctx context.Context, key []byte, previous ...[]byte) (store.Store, error) {
		return Open(ctx, path, key, nil, previous...)
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, newTestDB) }

func BenchmarkHotReads(b *testing.B) { storetest.Bench(b, newTestDB) }

func TestMigrations(t *testing.T) {
	storetest.RunMigrations(t, func(tb testing.TB) (storetest.VersionedOpener, storetest.Raw) {
		path := filepath.Join(tb.TempDir(), "meetbot.db")
		open := func(ctx context.Context, key []byte, target int) (store.Store, error) {
			return open(ctx, path, key, nil, nil, target)
		}
		raw := storetest.Raw{
			Exec: func(ctx context.Context, query string, args ...any) error {
				db, err := sql.Open("sqlite", path+"?"+pragmas)
				if err != nil {
					return err
				}
				defer db.Close()
				_, err = db.ExecContext(ctx, query, args...)
				return err
			},
			Time: func(t time.Time) any { return t.UnixMicro() },
		}
		return open, raw
	})
}

func TestSchemaVersion(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "meetbot.db")
	key := storetest.NewKey(t)
	d, err := Open(ctx, path, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := d.SQL().QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != storetest.Versions {
		t.Errorf("schema version after Open = %d, want %d", v, storetest.Versions)
	}
	// A database from a newer meetbot is refused rather than misread.
	if _, err := d.SQL().ExecContext(ctx, `UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err := Open(ctx, path, key, nil); err == nil {
		d.Close()
		t.Fatal("Open of a database at schema version 99 succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer database: %v, want it to say the schema is newer", err)
	}
}

// TestPINSealedAtRest checks that the PIN is nowhere in the database files, and that a sealed PIN
// copied to another channel's row does not open there.
func TestPINSealedAtRest(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "meetbot.db")
	d, err := Open(ctx, path, storetest.NewKey(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const pin = "8675309123"
	from := chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C1"}
	to := chat.ChannelRef{Platform: "slack", Workspace: "T1", Channel: "C2"}
	m := store.MeetingRef{APIServer: "https://api.example.com", Room: "1234"}
	if err := d.PutLink(ctx, store.Link{Channel: from, Meeting: m, PIN: pin, Role: "HOST"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL().ExecContext(ctx, `PRAGMA wal_checkpoint(FULL)`); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "meetbot.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(pin)) {
			t.Errorf("%s holds the PIN in clear", filepath.Base(f))
		}
	}

	if _, err := d.SQL().ExecContext(ctx, `UPDATE links SET channel = ? WHERE channel = ?`, to.Channel, from.Channel); err != nil {
		t.Fatal(err)
	}
	_, err = d.GetLink(ctx, to)
	if !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("GetLink of a row whose sealed PIN was moved from another channel: %v, want ErrWrongKey", err)
	}
	if strings.Contains(err.Error(), pin) {
		t.Errorf("error reveals the PIN: %v", err)
	}
}

func TestOpenBadPath(t *testing.T) {
	key := storetest.NewKey(t)
	for _, p := range []string{"", "file:x.db", "x.db?mode=ro", "x#y"} {
		if d, err := Open(t.Context(), p, key, nil); err == nil {
			d.Close()
			t.Errorf("Open(%q) succeeded, want an error", p)
		}
	}
}

// TestUnavailable cuts the database off by putting a plain file where its folder was, so no
// connection can open it, and checks that every operation then says the database is
// unavailable, and that Open says so too.
func TestUnavailable(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "meetbot.db")
	d, err := Open(ctx, path, storetest.NewKey(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.PutValue(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	// Every operation must open a connection of its own: close the pooled ones.
	d.SQL().SetMaxIdleConns(0)
	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	storetest.CheckUnavailable(t, d)

	if d, err := Open(ctx, filepath.Join(dir, "other.db"), storetest.NewKey(t), nil); err == nil {
		d.Close()
		t.Error("Open of a database that cannot be created succeeded")
	} else if !errors.Is(err, store.ErrUnavailable) && !strings.Contains(err.Error(), "create folder") {
		t.Errorf("Open of a database that cannot be created: %v", err)
	}
}
