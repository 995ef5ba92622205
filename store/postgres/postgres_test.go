package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/storetest"
)

// serverURL returns MEETBOT_TEST_POSTGRES_URL, skipping the test when it is unset (or failing it
// under MEETBOT_TEST_REQUIRE_ALL=true).
func serverURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("MEETBOT_TEST_POSTGRES_URL")
	if url == "" {
		if storetest.RequireAll() {
			tb.Fatal("MEETBOT_TEST_POSTGRES_URL is not set and MEETBOT_TEST_REQUIRE_ALL=true: PostgreSQL tests must run")
		}
		tb.Skip("MEETBOT_TEST_POSTGRES_URL is not set; skipping PostgreSQL tests (scripts/test sets it when a server answers)")
	}
	return url
}

// newSchema creates a schema of the test's own, dropped when it ends, and returns a pool
// configuration whose connections use it, so tests and runs never collide.
func newSchema(tb testing.TB) func() *pgxpool.Config {
	tb.Helper()
	url := serverURL(tb)
	ctx := context.Background()
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect to MEETBOT_TEST_POSTGRES_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
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
