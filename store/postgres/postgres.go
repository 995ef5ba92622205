// Package postgres is the Store for several bot replicas: one PostgreSQL database reached through
// database/sql and pgx's stdlib driver.
//
// The store itself, its queries and its migrations are shared with store/sqlite
// (store/internal/sqlstore); this package opens the database and says how PostgreSQL differs.
// Lease expiry is judged by the database's clock (now()), never a replica's, and a lease is a row
// claimed with one atomic upsert, so at most one replica owns a meeting's listener at a time.
// Schedule runs are claimed through a primary key on (schedule, slot), so each runs once. Schema
// migrations are applied by Open under an advisory lock, so replicas starting together migrate
// once.
package postgres

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/meetbot/meetbot/store"
	"github.com/meetbot/meetbot/store/internal/sqlstore"
)

// dialect is how PostgreSQL differs: timestamptz and boolean columns, the database's clock, an
// advisory lock around migrations.
var dialect = sqlstore.Dialect{
	Name:        "postgres",
	Now:         "now()",
	Microsecond: "interval '1 microsecond'",
	Time: func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return time.UnixMicro(t.UnixMicro()).UTC() // what PostgreSQL keeps
	},
	MigrationLock: `SELECT pg_advisory_xact_lock(hashtext('meetbot.migrate.' || current_schema()))`,
	IsForeignKeyViolation: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23503"
	},
	IsUnavailable: isUnavailable,
}

// DB is a Store kept in PostgreSQL. It is safe for concurrent use, and several processes may
// share one database.
type DB struct {
	*sqlstore.DB
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

// OpenConfig is Open with a parsed configuration, e.g. one whose RuntimeParams set the
// search_path to a schema of its own. Of the pool settings it uses the connection limit and
// lifetimes.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config, key []byte, logger *slog.Logger, previous ...[]byte) (*DB, error) {
	seal, err := store.NewSealer(key, previous...)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db := stdlib.OpenDB(*cfg.ConnConfig.Copy())
	db.SetMaxOpenConns(int(cfg.MaxConns))
	db.SetMaxIdleConns(int(cfg.MaxConns))
	db.SetConnMaxLifetime(cfg.MaxConnLifetime)
	db.SetConnMaxIdleTime(cfg.MaxConnIdleTime)
	if err := sqlstore.Migrate(ctx, db, dialect, logger); err != nil {
		db.Close()
		return nil, sqlstore.Errorf(dialect, "postgres %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return &DB{sqlstore.New(db, dialect, seal)}, nil
}

// isUnavailable reports whether err says the server cannot be reached now: a connection that
// could not be made or was lost, or the server shutting down, restarting or not yet accepting
// connections.
func isUnavailable(err error) bool {
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

// errorf is sqlstore.Errorf for PostgreSQL, for tests.
func errorf(format string, args ...any) error { return sqlstore.Errorf(dialect, format, args...) }
