package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
	return func(ctx context.Context, key []byte, previous ...[]byte) (store.Store, error) {
		return OpenConfig(ctx, config(), key, nil, previous...)
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, newTestDB) }

func BenchmarkHotReads(b *testing.B) { storetest.Bench(b, newTestDB) }

func TestMigrations(t *testing.T) {
	storetest.RunMigrations(t, func(tb testing.TB) (storetest.Opener, storetest.Raw) {
		config := newSchema(tb)
		raw := func(ctx context.Context, fn func(*pgx.Conn) error) error {
			conn, err := pgx.ConnectConfig(ctx, config().ConnConfig)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			return fn(conn)
		}
		open := func(ctx context.Context, key []byte, previous ...[]byte) (store.Store, error) {
			return OpenConfig(ctx, config(), key, nil, previous...)
		}
		return open, storetest.Raw{
			Exec: func(ctx context.Context, query string, args ...any) error {
				return raw(ctx, func(c *pgx.Conn) error { _, err := c.Exec(ctx, query, args...); return err })
			},
			Count: func(ctx context.Context, table string) (n int64, err error) {
				err = raw(ctx, func(c *pgx.Conn) error { return c.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n) })
				return n, err
			},
			Time:     func(t time.Time) any { return t },
			Released: os.DirFS("testdata/schema"),
			Describe: func(ctx context.Context) (lines []string, err error) {
				err = raw(ctx, func(c *pgx.Conn) error { lines, err = describe(ctx, c); return err })
				return lines, err
			},
		}
	})
}

// describe lists the schema of the connection's current schema: every column (type, nullable,
// default, identity), constraint and index.
func describe(ctx context.Context, c *pgx.Conn) ([]string, error) {
	var lines []string
	for _, q := range []string{
		`SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' nullable=' || is_nullable ||
			' default=' || coalesce(column_default, '') || ' identity=' || coalesce(identity_generation, '')
			FROM information_schema.columns WHERE table_schema = current_schema()`,
		`SELECT 'constraint ' || conrelid::regclass::text || ' ' || contype::text || ' ' || pg_get_constraintdef(oid)
			FROM pg_constraint WHERE connamespace = current_schema()::regnamespace`,
		`SELECT 'index ' || indexname || ' ' || regexp_replace(indexdef, ' ON \S+\.', ' ON ')
			FROM pg_indexes WHERE schemaname = current_schema()`,
	} {
		rows, err := c.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		ls, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		lines = append(lines, ls...)
	}
	slices.Sort(lines)
	return lines, nil
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
	if err := d.SQL().QueryRowContext(ctx, `SELECT count(*) FROM links WHERE position($1::bytea in pin) > 0 OR row(links.*)::text LIKE '%' || $2 || '%'`,
		[]byte(pin), pin).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Error("the links table holds the PIN in clear")
	}
	if _, err := d.SQL().ExecContext(ctx, `UPDATE links SET channel = $1 WHERE channel = $2`, to.Channel, from.Channel); err != nil {
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
	if err := d.SQL().QueryRowContext(ctx, `SELECT now()`).Scan(&dbNow); err != nil {
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

// proxy forwards TCP connections from a loopback port to the test server, and can cut every
// connection at once, as a database going away does.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// cut closes the listening port and every connection through it.
func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestUnavailable cuts the store's connections to the server (and closes the port they came
// through) and checks that every operation then says the database is unavailable; and that
// opening a store on a dead port says so too.
func TestUnavailable(t *testing.T) {
	ctx := t.Context()
	cfg := newSchema(t)()
	p := newProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, fmt.Sprint(cfg.ConnConfig.Port)))
	host, port, _ := net.SplitHostPort(p.ln.Addr().String())
	cfg.ConnConfig.Host = host
	fmt.Sscan(port, &cfg.ConnConfig.Port)
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	d, err := OpenConfig(ctx, cfg, storetest.NewKey(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.PutValue(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	p.cut()
	storetest.CheckUnavailable(t, d)

	dead := cfg.Copy()
	if _, err := OpenConfig(ctx, dead, storetest.NewKey(t), nil); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("OpenConfig on a dead port: err = %v, want ErrUnavailable", err)
	}
}

// TestTerminatedConnection has the server end the store's connection (pg_terminate_backend, as a
// restart or failover does): the operation on it either says the database is unavailable (the
// server's 57P01 arrives as its answer) or, when the driver's liveness check saw the connection
// die first (it pings one idle for over a second), runs on a new connection; the next one works.
func TestTerminatedConnection(t *testing.T) {
	ctx := t.Context()
	cfg := newSchema(t)()
	app := "meetbot-test-" + strings.TrimPrefix(cfg.ConnConfig.RuntimeParams["search_path"], "t_")
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	cfg.MaxConns = 1
	d, err := OpenConfig(ctx, cfg, storetest.NewKey(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.PutValue(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var n int
	if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminate the store's connection: %d terminated, %v", n, err)
	}
	if _, err := d.GetValue(ctx, "k"); err != nil && !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetValue on a terminated connection: err = %v, want ErrUnavailable (or success on a new connection)", err)
	}
	if v, err := d.GetValue(ctx, "k"); err != nil || v != "v" {
		t.Errorf("GetValue after the connection was replaced = %q, %v; want v", v, err)
	}
}

func TestIsUnavailable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "57P01"}, true}, // admin_shutdown
		{&pgconn.PgError{Code: "57P02"}, true}, // crash_shutdown
		{&pgconn.PgError{Code: "57P03"}, true}, // cannot_connect_now
		{&pgconn.PgError{Code: "08006"}, true}, // connection_failure
		{&pgconn.PgError{Code: "08001"}, true}, // sqlclient_unable_to_establish_sqlconnection
		{fmt.Errorf("x: %w", syscall.ECONNREFUSED), true},
		{fmt.Errorf("x: %w", syscall.ECONNRESET), true},
		{io.ErrUnexpectedEOF, true},
		{&pgconn.PgError{Code: "23505"}, false}, // unique_violation
		{&pgconn.PgError{Code: "28P01"}, false}, // invalid_password: a setting to fix, not an outage
		{&pgconn.PgError{Code: "57014"}, false}, // query_canceled
		{context.Canceled, false},
		{errors.New("syntax"), false},
	} {
		if got := errors.Is(errorf("op: %w", tt.err), store.ErrUnavailable); got != tt.want {
			t.Errorf("errorf(%v) wraps ErrUnavailable = %v, want %v", tt.err, got, tt.want)
		}
	}
}
