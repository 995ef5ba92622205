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
	"log/slog"
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
}

var _ store.Store = (*DB)(nil)

// ErrBadURL is wrapped by Open's error for a connection URL pgx cannot parse. The URL itself is
// never repeated, since it may hold a password.
var ErrBadURL = errors.New("not a valid PostgreSQL connection URL")

// Open connects to the database at url (postgres://…) and brings its schema up to date. key is
// MEETBOT_SECRET_KEY decoded (store.ParseSecretKey); logger may be nil.
func Open(ctx context.Context, url string, key []byte, logger *slog.Logger) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, ErrBadURL
	}
	return OpenConfig(ctx, cfg, key, logger)
}

// OpenConfig is Open with a parsed pool configuration, e.g. one whose RuntimeParams set the
// search_path to a schema of its own.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, key []byte, logger *slog.Logger) (*DB, error) {
	return open(ctx, cfg, key, logger, 0)
}

// open is OpenConfig stopping at schema version target (0 = the newest), for migration tests.
func open(ctx context.Context, cfg *pgxpool.Config, key []byte, logger *slog.Logger, target int) (*DB, error) {
	seal, err := store.NewSealer(key)
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
		return nil, fmt.Errorf("postgres %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
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
