package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/storetest"
)

// newTestDB gives each test its own database file in a temporary folder.
func newTestDB(tb testing.TB) storetest.Opener {
	return newTestDBAt(filepath.Join(tb.TempDir(), "data", "meetbot.db"))
}

func newTestDBAt(path string) storetest.Opener {
	return func(ctx context.Context, key []byte, previous ...[]byte) (store.Store, error) {
		return Open(ctx, path, key, nil, previous...)
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, newTestDB) }

func BenchmarkHotReads(b *testing.B) { storetest.Bench(b, newTestDB) }

func TestMigrations(t *testing.T) {
	storetest.RunMigrations(t, func(tb testing.TB) (storetest.Opener, storetest.Raw) {
		path := filepath.Join(tb.TempDir(), "meetbot.db")
		raw := func(ctx context.Context, fn func(db *sql.DB) error) error {
			db, err := sql.Open("sqlite", path+"?"+pragmas)
			if err != nil {
				return err
			}
			defer db.Close()
			return fn(db)
		}
		return newTestDBAt(path), storetest.Raw{
			Exec: func(ctx context.Context, query string, args ...any) error {
				return raw(ctx, func(db *sql.DB) error { _, err := db.ExecContext(ctx, query, args...); return err })
			},
			Count: func(ctx context.Context, table string) (n int64, err error) {
				err = raw(ctx, func(db *sql.DB) error { return db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n) })
				return n, err
			},
			Time:     func(t time.Time) any { return t.UnixMicro() },
			Released: os.DirFS("testdata/schema"),
			Describe: func(ctx context.Context) (lines []string, err error) {
				err = raw(ctx, func(db *sql.DB) error { lines, err = describe(ctx, db); return err })
				return lines, err
			},
		}
	})
}

// describe lists the schema of db: each table's columns (declared type, NOT NULL, default,
// primary key position), AUTOINCREMENT, foreign keys, and each index's SQL.
func describe(ctx context.Context, db *sql.DB) ([]string, error) {
	var lines []string
	rows, err := db.QueryContext(ctx, `SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'`)
	if err != nil {
		return nil, err
	}
	type object struct{ kind, name, table, sql string }
	var objs []object
	for rows.Next() {
		var o object
		if err := rows.Scan(&o.kind, &o.name, &o.table, &o.sql); err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	rows.Close()
	for _, o := range objs {
		if o.kind == "index" {
			lines = append(lines, "index "+o.name+": "+o.sql)
			continue
		}
		lines = append(lines, fmt.Sprintf("table %s autoincrement=%v", o.name, strings.Contains(strings.ToUpper(o.sql), "AUTOINCREMENT")))
		for _, q := range []string{"SELECT name, upper(type), \"notnull\", coalesce(dflt_value, ''), pk FROM pragma_table_info($1)",
			"SELECT \"table\", \"from\", \"to\", on_delete, '' FROM pragma_foreign_key_list($1)"} {
			rows, err := db.QueryContext(ctx, q, o.name)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var a, b, c, d, e string
				if err := rows.Scan(&a, &b, &c, &d, &e); err != nil {
					rows.Close()
					return nil, err
				}
				lines = append(lines, fmt.Sprintf("table %s: %s %s %s %s %s", o.name, a, b, c, d, e))
			}
			rows.Close()
		}
	}
	slices.Sort(lines)
	return lines, nil
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

// TestLeasesFollowTheProcessClock checks that SQLite judges leases and nonces by this process's
// clock, so code under testing/synctest sees them lapse on the bubble's clock.
func TestLeasesFollowTheProcessClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		d, err := Open(ctx, Memory, storetest.NewKey(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if ok, err := d.ClaimLease(ctx, "k", "r1", time.Hour); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if ok, err := d.ClaimNonce(ctx, "n", time.Hour); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if _, until, _ := d.LeaseHolder(ctx, "k"); !until.Equal(time.Now().Add(time.Hour)) {
			t.Errorf("lease until %v, want exactly an hour after the bubble's now (%v)", until, time.Now())
		}
		time.Sleep(time.Hour)
		if owner, _, err := d.LeaseHolder(ctx, "k"); err != nil || owner != "" {
			t.Errorf("lease holder an hour later on the bubble's clock = %q, %v; want none", owner, err)
		}
		if ok, err := d.ClaimNonce(ctx, "n", time.Hour); err != nil || !ok {
			t.Errorf("nonce claimed again an hour later = %v, %v; want fresh", ok, err)
		}
	})
}
