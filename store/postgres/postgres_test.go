package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meetbot/meetbot/chat"
	"github.com/meetbot/meetbot/internal/pgtest"
	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/storetest"
)

// newSchema creates a schema of the test's own, dropped when it ends, and returns a pool
// configuration whose connections use it, so tests and runs never collide.
func newSchema(tb testing.TB) func() *pgxpool.Config {
	tb.Helper()
	schema := pgtest.Schema(tb, "t")
	url := pgtest.ServerURL(tb)
	return func() *pgxpool.Config {
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
		return cfg
	}
}

// newTestDB is the conformance suite's Factory: a fresh schema per test.
func newTestDB(tb testing.TB) storetest.Opener {
	config := newSchema(tb)
	return func(ctx context.Context, key []byte) (store.Store, error) {
		return OpenConfig(ctx, config(), key, nil)
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, newTestDB) }

func BenchmarkHotReads(b *testing.B) { storetest.Bench(b, newTestDB) }

func TestMigrations(t *testing.T) {
	storetest.RunMigrations(t, func(tb testing.TB) storetest.VersionedOpener {
		config := newSchema(tb)
		return func(ctx context.Context, key []byte, target int) (store.Store, error) {
			return open(ctx, config(), key, nil, target)
		}
	})
}

func TestSchemaVersion(t *testing.T) {
	ctx := t.Context()
	config := newSchema(t)
	key := storetest.NewKey(t)
	d, err := OpenConfig(ctx, config(), key, nil)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := d.pool.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != storetest.Versions {
		t.Errorf("schema version after Open = %d, want %d", v, storetest.Versions)
	}
	// A database from a newer meetbot is refused rather than misread.
	if _, err := d.pool.Exec(ctx, `UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d, err := OpenConfig(ctx, config(), key, nil); err == nil {
		d.Close()
		t.Fatal("Open of a database at schema version 99 succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer database: %v, want it to say the schema is newer", err)
	}
}

// TestPINSealedAtRest checks that the PIN is not stored in clear, and that a sealed PIN copied to
// another channel's row does not open there.
func TestPINSealedAtRest(t *testing.T) {
	ctx := t.Context()
	d, err := OpenConfig(ctx, newSchema(t)(), storetest.NewKey(t), nil)
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
	var n int
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM links WHERE position($1::bytea in pin) > 0 OR row(links.*)::text LIKE '%' || $2 || '%'`,
		[]byte(pin), pin).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("the links table holds the PIN in clear")
	}
	if _, err := d.pool.Exec(ctx, `UPDATE links SET channel = $1 WHERE channel = $2`, to.Channel, from.Channel); err != nil {
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

// TestLeaseDatabaseClock checks that a lease's expiry is the database's now() plus the TTL, not a
// time the replica computed.
func TestLeaseDatabaseClock(t *testing.T) {
	ctx := t.Context()
	d, err := OpenConfig(ctx, newSchema(t)(), storetest.NewKey(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const ttl = time.Hour
	if ok, err := d.ClaimLease(ctx, "k", "r1", ttl); err != nil || !ok {
		t.Fatal(ok, err)
	}
	_, until, err := d.LeaseHolder(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	var dbNow time.Time
	if err := d.pool.QueryRow(ctx, `SELECT now()`).Scan(&dbNow); err != nil {
		t.Fatal(err)
	}
	if diff := until.Sub(dbNow.Add(ttl)); diff > 0 || diff < -time.Minute {
		t.Errorf("lease until %v; want the database's now (%v) plus %v, just before this query", until, dbNow, ttl)
	}
}

func TestOpenBadURL(t *testing.T) {
	_, err := Open(t.Context(), "postgres://u:hunter2@host:notaport/db", storetest.NewKey(t), nil)
	if !errors.Is(err, ErrBadURL) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Open of a bad URL: %v; want ErrBadURL without the password", err)
	}
}
