// Package pgtest gives a test a PostgreSQL schema of its own on the server named by
// MEETBOT_TEST_POSTGRES_URL, so tests and concurrent runs never see each other's tables.
//
// Without that variable a test skips with a line saying so, unless MEETBOT_TEST_REQUIRE_ALL is
// "true" (scripts/test under CI=true), when it fails instead: a missing server must not pass
// for a green run.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ServerURL returns the test server's URL, or skips (or fails, when required) without one.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("MEETBOT_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("MEETBOT_TEST_REQUIRE_ALL") == "true" {
			tb.Fatal("MEETBOT_TEST_POSTGRES_URL is not set and MEETBOT_TEST_REQUIRE_ALL=true: PostgreSQL tests must run")
		}
		tb.Skip("MEETBOT_TEST_POSTGRES_URL is not set; skipping PostgreSQL tests (scripts/test sets it when a server answers)")
	}
	return u
}

// Schema creates a schema named prefix_<random> for tb, drops it with everything in it when tb
// ends, and returns its name.
func Schema(tb testing.TB, prefix string) string {
	tb.Helper()
	server := ServerURL(tb)
	ctx := context.Background()
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := prefix + "_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		tb.Fatalf("connect to MEETBOT_TEST_POSTGRES_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// SchemaURL creates a schema as Schema does and returns the server's URL with search_path set to
// it, which pgx passes on to every connection: a store opened with this URL lives in the schema.
func SchemaURL(tb testing.TB, prefix string) string {
	tb.Helper()
	schema := Schema(tb, prefix)
	u, err := url.Parse(ServerURL(tb))
	if err != nil {
		tb.Fatalf("MEETBOT_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
