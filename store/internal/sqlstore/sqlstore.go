// Package sqlstore is the one implementation of store.Store over database/sql, for SQLite and
// PostgreSQL alike. What differs between the two databases is a Dialect; store/sqlite and
// store/postgres open their database, name their dialect and hand both to Open.
//
// Queries are written once, with $1-style placeholders (PostgreSQL's, which modernc's SQLite
// driver also binds by number) and two macros the dialect expands once per query text: {now}, the
// current time, and {µs}, one microsecond, so a lease's expiry is
// "{now} + CAST($3 AS BIGINT) * {µs}". Leases and nonces are judged by {now}: on PostgreSQL the
// database's clock, shared by every replica; on SQLite this process's clock, bound as a
// parameter, so tests in a testing/synctest bubble see leases lapse on the bubble's clock.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded schema migrations, for both databases.
func Migrations() ([]migrate.Migration, error) { return migrate.Load(migrationFiles, "migrations") }

// Dialect is what one database does its own way.
type Dialect struct {
	// Name is "sqlite" or "postgres": it picks the migration lines marked for that database.
	Name string
	// Now is the SQL expression for the current time as the database stores times. Empty means
	// this process's clock: queries using {now} get it bound, encoded by Time, as :now.
	Now string
	// Microsecond is the SQL expression for one microsecond, in the unit of Now.
	Microsecond string
	// Time encodes a time as the database stores it (nil for the zero time).
	Time func(time.Time) any
	// MigrationLock, if set, is run first in each migration's transaction (see migrate.Options).
	MigrationLock string
	// IsForeignKeyViolation reports whether err is the database refusing a row whose parent is gone.
	IsForeignKeyViolation func(error) bool
	// IsUnavailable reports whether err means the database cannot be reached now.
	IsUnavailable func(error) bool
}

// DB is a store.Store kept in a database/sql database. It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	dialect Dialect
	macros  *strings.Replacer
	seal    *store.Sealer
	now     func() time.Time // for times the bot stamps itself (CreatedAt, audit time)

	mu     sync.Mutex
	stmts  map[string]prepared
	claims atomic.Uint64 // nonce claims, to sweep expired nonces now and then
}

// prepared is a statement and whether it needs the process's clock bound as :now.
type prepared struct {
	*sql.Stmt
	now bool
}

var _ store.Store = (*DB)(nil)

// Migrate brings db's schema up to date.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, log *slog.Logger) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	return migrate.Run(ctx, db, ms, migrate.Options{Dialect: d.Name, Lock: d.MigrationLock, Log: log})
}

// New returns the store kept in db, whose schema Migrate has brought up to date; seal seals
// PINs. The DB owns db from then on: Close closes it.
func New(db *sql.DB, d Dialect, seal *store.Sealer) *DB {
	now := d.Now
	if now == "" {
		now = ":now"
	}
	return &DB{
		db: db, dialect: d, seal: seal, now: time.Now,
		macros: strings.NewReplacer("{now}", now, "{µs}", d.Microsecond),
	}
}

// SQL returns the database, for backend tests that look beneath the store.
func (d *DB) SQL() *sql.DB { return d.db }

// Close closes every prepared statement and the database.
func (d *DB) Close() error {
	d.mu.Lock()
	var err error
	for _, s := range d.stmts {
		err = errors.Join(err, s.Close())
	}
	d.stmts = nil
	d.mu.Unlock()
	return errors.Join(err, d.db.Close())
}

// stmt returns the prepared statement for query, expanding its macros and preparing it on first
// use: parsing a short statement costs SQLite about a third of running it, and every command
// appends an audit entry.
func (d *DB) stmt(ctx context.Context, query string) (prepared, error) {
	d.mu.Lock()
	s, ok := d.stmts[query]
	d.mu.Unlock()
	if ok {
		return s, nil
	}
	st, err := d.db.PrepareContext(ctx, d.macros.Replace(query)) // not under mu: it is I/O
	if err != nil {
		return prepared{}, err
	}
	s = prepared{st, d.dialect.Now == "" && strings.Contains(query, "{now}")}
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev, ok := d.stmts[query]; ok {
		st.Close()
		return prev, nil
	}
	if d.stmts == nil {
		d.stmts = map[string]prepared{}
	}
	d.stmts[query] = s
	return s, nil
}

// args appends the process's clock to args when s needs it.
func (d *DB) args(s prepared, args []any) []any {
	if s.now {
		return append(args, sql.Named("now", d.dialect.Time(d.now())))
	}
	return args
}

func (d *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, d.args(s, args)...)
}

// affected runs query and returns how many rows it changed.
func (d *DB) affected(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := d.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, d.args(s, args)...)
}

// row is a *sql.Row, or the error of preparing its query.
type row struct {
	r   *sql.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dest...)
}

func (d *DB) queryRow(ctx context.Context, query string, args ...any) row {
	s, err := d.stmt(ctx, query)
	if err != nil {
		return row{err: err}
	}
	return row{r: s.QueryRowContext(ctx, d.args(s, args)...)}
}

// errorf is fmt.Errorf that also wraps store.ErrUnavailable when the cause is that the database
// cannot be reached, so callers can tell "try again later" from a bug.
func (d *DB) errorf(format string, args ...any) error {
	return Errorf(d.dialect, format, args...)
}

// Errorf is fmt.Errorf that also wraps store.ErrUnavailable when the dialect says the cause is
// that the database cannot be reached (or database/sql gave up on a bad connection).
func Errorf(dialect Dialect, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if errors.Is(err, context.Canceled) {
		return err // the caller's own doing
	}
	if errors.Is(err, driver.ErrBadConn) || dialect.IsUnavailable(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// dbTime scans a time as either database stores it: Unix microseconds (SQLite), a timestamp
// (PostgreSQL), or NULL for the zero time. Times come back in UTC.
type dbTime struct{ t *time.Time }

func (s dbTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*s.t = time.Time{}
	case int64:
		*s.t = time.UnixMicro(v).UTC()
	case time.Time:
		*s.t = v.UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", v)
	}
	return nil
}

// asStored returns t as reading it back gives it: UTC, to the microsecond.
func asStored(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}
