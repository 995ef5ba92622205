// Package postgres is the Store for several bot replicas: one PostgreSQL database reached through a
// pgx connection pool.
//
// Lease expiry is judged by the database's clock (now()), never a replica's, and a lease is a row
// claimed with one atomic upsert, so at most one replica owns a meeting's listener at a time.
// Schedule runs are claimed through a primary key on (schedule, slot), so each runs once. Schema
// migrations are embedded and applied by Open under an advisory lock, so replicas starting
// together migrate once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is a Store kept in PostgreSQL. It is safe for concurrent use, and several processes may
// share one database.
type DB struct {
	pool *pgxpool.Pool
	seal *store.Sealer
	log  *slog.Logger

	claims atomic.Uint64 // nonce claims, to sweep expired nonces now and then
}

var _ store.Store = (*DB)(nil)

// ErrBadURL is wrapped by Open's error for a connection URL pgx cannot parse. The URL itself is
// never repeated, since it may hold a password.
var ErrBadURL = errors.New("not a valid PostgreSQL connection URL")

// Open connects to the database at url (postgres://…) and brings its schema up to date. key is
// MEETBOT_SECRET_KEY decoded (store.ParseSecretKey), previous the keys PINs may still be sealed
// under (MEETBOT_SECRET_KEY_PREVIOUS); logger may be nil. If the server cannot be reached, the
// error wraps store.ErrUnavailable.
func Open(ctx context.Context, url string, key []byte, logger *slog.Logger, previous ...[]byte) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, ErrBadURL
	}
	return OpenConfig(ctx, cfg, key, logger, previous...)
}

// OpenConfig is Open with a parsed pool configuration, e.g. one whose RuntimeParams set the
// search_path to a schema of its own.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, key []byte, logger *slog.Logger, previous ...[]byte) (*DB, error) {
	return open(ctx, cfg, key, previous, logger, 0)
}

// open is OpenConfig stopping at schema version target (0 = the newest), for migration tests.
func open(ctx context.Context, cfg *pgxpool.Config, key []byte, previous [][]byte, logger *slog.Logger, target int) (*DB, error) {
	seal, err := store.NewSealer(key, previous...)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	d := &DB{pool: pool, seal: seal, log: logger}
	if err := d.migrate(ctx, target); err != nil {
		pool.Close()
		return nil, errorf("postgres %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return d, nil
}

// Close closes every connection of the pool.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// migrate applies the embedded migrations up to target (0 = all), each in its own transaction
// holding an advisory lock on the schema, recording the version reached in schema_version.
func (d *DB) migrate(ctx context.Context, target int) error {
	ms, err := migrate.Load(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	if target == 0 {
		target = len(ms)
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
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('meetbot.migrate.' || current_schema()))`); err != nil {
		return false, fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
		return false, fmt.Errorf("migrate: create schema_version: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return false, fmt.Errorf("migrate: read version: %w", err)
	}
	if v > len(ms) {
		return false, fmt.Errorf("schema version %d is newer than this meetbot knows (%d): upgrade meetbot", v, len(ms))
	}
	if v >= target {
		return true, tx.Commit(ctx)
	}
	m := ms[v]
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM schema_version`); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, m.Version); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migrate %s: commit: %w", m.Name, err)
	}
	d.log.Info("store schema migrated", "backend", "postgres", "version", m.Version, "migration", m.Name)
	return false, nil
}

// nullTime encodes t for the database: NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// fromNull decodes what nullTime wrote, in UTC.
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// asStored returns t as reading it back gives it: UTC, to the microsecond.
func asStored(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMicro(t.UnixMicro()).UTC() // pgx sends whole microseconds
}

// isFKViolation reports whether err is PostgreSQL's foreign_key_violation.
func isFKViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

// errorf is fmt.Errorf that also wraps store.ErrUnavailable when the cause is that the server
// cannot be reached, so callers can tell "try again later" from a bug.
func errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if isUnavailable(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// isUnavailable reports whether err says the server cannot be reached now: a connection that
// could not be made or was lost, or the server shutting down, restarting or not yet accepting
// connections. The caller's own cancellation is not the database's fault and is left alone.
func isUnavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		}
		return strings.HasPrefix(pe.Code, "08") // connection exceptions
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.SafeToRetry(err)
}
