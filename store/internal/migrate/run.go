package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// Options says how Run treats one database.
type Options struct {
	// Dialect is "sqlite" or "postgres": lines marked for the other database are left out.
	Dialect string
	// Lock, if set, is run first in every migration's transaction to keep other processes out
	// (PostgreSQL: an advisory lock). SQLite needs none: its transactions are immediate.
	Lock string
	Log  *slog.Logger // may be nil
}

// Run applies the migrations ms (as Load returns them) to db, each in its own
// transaction together with the version it reaches, recorded in the one-row table
// schema_version. It is idempotent and safe when several processes open one database at once. A
// database at a version newer than ms is refused.
func Run(ctx context.Context, db *sql.DB, ms []Migration, opts Options) error {
	for {
		done, err := runOne(ctx, db, ms, opts)
		if err != nil || done {
			return err
		}
	}
}

// runOne applies the next pending migration and reports whether none was pending.
func runOne(ctx context.Context, db *sql.DB, ms []Migration, opts Options) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	if opts.Lock != "" {
		if _, err := tx.ExecContext(ctx, opts.Lock); err != nil {
			return false, fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return false, fmt.Errorf("migrate: create schema_version: %w", err)
	}
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return false, fmt.Errorf("migrate: read version: %w", err)
	}
	if v > len(ms) {
		return false, fmt.Errorf("schema version %d is newer than this meetbot knows (%d): upgrade meetbot", v, len(ms))
	}
	if v == len(ms) {
		return true, tx.Commit()
	}
	m := ms[v]
	query, err := Filter(m.SQL, opts.Dialect)
	if err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, query); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (`+strconv.Itoa(m.Version)+`)`); err != nil {
		return false, fmt.Errorf("migrate %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate %s: commit: %w", m.Name, err)
	}
	if opts.Log != nil {
		opts.Log.Info("store schema migrated", "backend", opts.Dialect, "version", m.Version, "migration", m.Name)
	}
	return false, nil
}

// Filter returns the lines of a migration that are meant for dialect, following mautrix's
// dbutil: a line `-- only: postgres` (or sqlite) keeps the next line for that database only, and
// `-- only: sqlite for next N lines` the next N. Every other line is kept for both.
func Filter(query, dialect string) (string, error) {
	if dialect != "sqlite" && dialect != "postgres" {
		return "", fmt.Errorf("unknown dialect %q", dialect)
	}
	lines := strings.Split(query, "\n")
	out := make([]string, 0, len(lines))
	for i := 0; i < len(lines); i++ {
		rest, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "-- only: ")
		if !ok {
			out = append(out, lines[i])
			continue
		}
		only, count, _ := strings.Cut(rest, " ")
		n := 1
		if count != "" {
			c, ok := strings.CutPrefix(count, "for next ")
			c, ok2 := strings.CutSuffix(c, " lines")
			var err error
			if n, err = strconv.Atoi(c); !ok || !ok2 || err != nil || n < 1 {
				return "", fmt.Errorf("line %d: want `-- only: %s` or `-- only: %s for next N lines`", i+1, only, only)
			}
		}
		if only != "sqlite" && only != "postgres" {
			return "", fmt.Errorf("line %d: unknown dialect %q", i+1, only)
		}
		if i+n >= len(lines) {
			return "", fmt.Errorf("line %d: %d lines marked, fewer follow", i+1, n)
		}
		if only == dialect {
			out = append(out, lines[i+1:i+1+n]...)
		}
		i += n
	}
	return strings.Join(out, "\n"), nil
}
