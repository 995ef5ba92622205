// Package sqlite is the embedded Store: one SQLite file (modernc.org/sqlite, pure Go), the default
// for a single bot process.
//
// The database runs in WAL mode with a busy timeout, immediate transactions and foreign keys on,
// so concurrent writers wait for each other instead of losing writes. Its schema migrations are
// embedded and applied by Open. Lease expiry is judged by this process's clock, which is the only
// clock when one process owns the file.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	sqlitedrv "modernc.org/sqlite" // also registers driver "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Memory is the path that opens a private in-memory database (STORE_URL sqlite::memory:).
const Memory = ":memory:"

// pragmas are applied to every connection: see the package comment.
const pragmas = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// DB is a Store kept in one SQLite database. It is safe for concurrent use.
type DB struct {
	db   *sql.DB
	seal *store.Sealer
	log  *slog.Logger
	now  func() time.Time

	stmts  stmtCache
	claims atomic.Uint64 // nonce claims, to sweep expired nonces now and then
}

var _ store.Store = (*DB)(nil)

// Open opens the SQLite database at path, creating it and its folder when missing, and brings its
// schema up to date. Path Memory opens a fresh in-memory database that lives until Close. key is
// MEETBOT_SECRET_KEY decoded (store.ParseSecretKey), previous the keys PINs may still be sealed
// under (MEETBOT_SECRET_KEY_PREVIOUS); logger may be nil. If the file cannot be opened, the
// error wraps store.ErrUnavailable.
func Open(ctx context.Context, path string, key []byte, logger *slog.Logger, previous ...[]byte) (*DB, error) {
	return open(ctx, path, key, previous, logger, 0)
}

// open is Open stopping at schema version target (0 = the newest), for migration tests.
func open(ctx context.Context, path string, key []byte, previous [][]byte, logger *slog.Logger, target int) (*DB, error) {
	seal, err := store.NewSealer(key, previous...)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var dsn string
	memory := path == Memory
	switch {
	case memory:
		// :memory: is per connection; a unique shared-cache name lets the pool see one database,
		// and a single connection avoids shared-cache table locks.
		var b [8]byte
		_, _ = rand.Read(b[:])
		dsn = "file:meetbot-" + hex.EncodeToString(b[:]) + "?mode=memory&cache=shared&" + pragmas
	case path == "":
		return nil, errors.New("sqlite: empty path")
	case strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("sqlite path %q: must be a plain file path without ? or #", path)
	default:
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("sqlite: create folder of %s: %w", path, err)
			}
		}
		dsn = path + "?" + pragmas
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if memory {
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
	}
	d := &DB{db: db, seal: seal, log: logger, now: time.Now}
	if err := d.migrateRetryingBusy(ctx, target); err != nil {
		db.Close()
		return nil, errorf("sqlite: %s: %w", path, err)
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return errors.Join(d.stmts.close(), d.db.Close()) }

// migrateRetryingBusy runs migrate, trying again while the database answers SQLITE_BUSY: when
// several processes open a fresh file at once, the one switching it to WAL can make the others
// fail at once rather than wait out busy_timeout. Each migration is its own transaction, so a
// retry starts from the version reached.
func (d *DB) migrateRetryingBusy(ctx context.Context, target int) error {
	wait := 20 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := d.migrate(ctx, target)
		var se *sqlitedrv.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || attempt == 10 {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// migrate applies the embedded migrations up to target (0 = all), each in its own immediate
// transaction, recording the version reached in schema_version. It is idempotent and safe when
// several connections or processes open the same file at once.
func (d *DB) migrate(ctx context.Context, target int) error {
	ms, err := migrate.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	if target == 0 {
		target = len(ms)
	}
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_version: %w", err)
	}
	for {
		done, err := d.migrateOne(ctx, ms, target)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next pending migration and reports whether none was pending.
func (d *DB) migrateOne(ctx context.Context, ms []migrate.Migration, target int) (done bool, err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return false, fmt.Errorf("migrate: read version: %w", err)
	}
	if v > len(ms) {
		return false, fmt.Errorf("schema version %d is newer than this meetbot knows (%d): upgrade meetbot", v, len(ms))
	}
	if v >= target {
		return true, nil
	}
	m := ms[v]
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, m.Version); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate %s: commit: %w", m.Name, err)
	}
	d.log.Info("store schema migrated", "backend", "sqlite", "version", m.Version, "migration", m.Name)
	return false, nil
}

// micros encodes t for the database: Unix microseconds, NULL for the zero time.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// fromMicros decodes what micros wrote.
func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// errorf is fmt.Errorf that also wraps store.ErrUnavailable when the cause is that the database
// file cannot be opened or read, so callers can tell "try again later" from a bug.
func errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	var se *sqlitedrv.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR:
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
	}
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
