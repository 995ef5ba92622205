// Package sqlstore is the one implementation of store.Store over database/sql, for SQLite and
// PostgreSQL alike. What differs between the two databases is a Dialect; store/sqlite and
// store/postgres open their database, name their dialect, and call Migrate and New.
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
	"strconv"
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
	// this process's clock (the store's now): a query using {now} gets it bound, encoded by
	// Time, as one more parameter after its own.
	Now string
	// Microsecond is the SQL expression for one microsecond, in the unit of Now.
	Microsecond string
	// Time encodes a time as the database stores it (nil for the zero time).
	Time func(time.Time) any
	// Prepare says to prepare each statement once through database/sql. SQLite wants it (parsing
	// costs it a third of a short query); pgx's driver keeps its own per-connection statement
	// cache, and database/sql's prepared statements would only add their bookkeeping.
	Prepare bool
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

// prepared is a query with its macros expanded, its statement when the dialect prepares, and
// whether it needs the process's clock bound as :now.
type prepared struct {
	stmt *sql.Stmt // nil: run text on the database
	text string
	now  bool
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
	macros := []string{"{µs}", d.Microsecond}
	if d.Now != "" {
		macros = append(macros, "{now}", d.Now)
	}
	return &DB{db: db, dialect: d, seal: seal, now: time.Now, macros: strings.NewReplacer(macros...)}
}

// SQL returns the database, for backend tests that look beneath the store.
func (d *DB) SQL() *sql.DB { return d.db }

// Close closes every prepared statement and the database.
func (d *DB) Close() error {
	d.mu.Lock()
	var err error
	for _, p := range d.stmts {
		if p.stmt != nil {
			err = errors.Join(err, p.stmt.Close())
		}
	}
	d.stmts = nil
	d.mu.Unlock()
	return errors.Join(err, d.db.Close())
}

// stmt returns query prepared: its macros expanded and, when the dialect prepares, its
// statement, made on first use.
func (d *DB) stmt(ctx context.Context, query string) (prepared, error) {
	d.mu.Lock()
	p, ok := d.stmts[query]
	d.mu.Unlock()
	if ok {
		return p, nil
	}
	p = prepared{text: d.macros.Replace(query)}
	if d.dialect.Now == "" && strings.Contains(query, "{now}") {
		p.now = true
		p.text = strings.ReplaceAll(p.text, "{now}", "$"+strconv.Itoa(maxParam(query)+1))
	}
	if d.dialect.Prepare {
		st, err := d.db.PrepareContext(ctx, p.text) // not under mu: it is I/O
		if err != nil {
			return prepared{}, err
		}
		p.stmt = st
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if prev, ok := d.stmts[query]; ok {
		if p.stmt != nil {
			p.stmt.Close()
		}
		return prev, nil
	}
	if d.stmts == nil {
		d.stmts = map[string]prepared{}
	}
	d.stmts[query] = p
	return p, nil
}

// maxParam returns the highest $N in query.
func maxParam(query string) int {
	hi := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '$' {
			continue
		}
		n, j := 0, i+1
		for ; j < len(query) && query[j] >= '0' && query[j] <= '9'; j++ {
			n = 10*n + int(query[j]-'0')
		}
		hi, i = max(hi, n), j-1
	}
	return hi
}

// args appends the process's clock to args when p needs it.
func (d *DB) args(p prepared, args []any) []any {
	if p.now {
		return append(args, d.dialect.Time(d.now()))
	}
	return args
}

func (d *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	p, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if p.stmt == nil {
		return d.db.ExecContext(ctx, p.text, d.args(p, args)...)
	}
	return p.stmt.ExecContext(ctx, d.args(p, args)...)
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
	p, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if p.stmt == nil {
		return d.db.QueryContext(ctx, p.text, d.args(p, args)...)
	}
	return p.stmt.QueryContext(ctx, d.args(p, args)...)
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
	p, err := d.stmt(ctx, query)
	if err != nil {
		return row{err: err}
	}
	if p.stmt == nil {
		return row{r: d.db.QueryRowContext(ctx, p.text, d.args(p, args)...)}
	}
	return row{r: p.stmt.QueryRowContext(ctx, d.args(p, args)...)}
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
