package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/pressly/goose/v3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Types are the column types that differ between engines.
type Types struct {
	ID    string // auto-incrementing primary key, never reusing ids
	Bytes string
	// Postgres says the engine is PostgreSQL: a migration line starting
	// with @PG@ runs there only (elsewhere it renders as a comment), for
	// storage settings SQLite has no equivalent of. A line starting with
	// @SQLITE@ runs on SQLite only, for schema changes SQLite can make
	// only by rebuilding a table that PostgreSQL alters in place.
	Postgres bool
}

// Migrate brings db's schema up to date with goose. The one schema is
// rendered with the engine's types, so the engines cannot drift apart.
func Migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, types Types) error {
	provider, err := newProvider(db, dialect, types)
	if err != nil {
		return err
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// MigrateTo brings db's schema up to migration version and no further,
// as an older build left it, so that a test can check what a later
// migration does to existing rows.
func MigrateTo(ctx context.Context, db *sql.DB, dialect goose.Dialect, types Types, version int64) error {
	provider, err := newProvider(db, dialect, types)
	if err != nil {
		return err
	}
	if _, err := provider.UpTo(ctx, version); err != nil {
		return fmt.Errorf("migrate to %d: %w", version, err)
	}
	return nil
}

// CheckMigrated returns an error unless db's schema is at the head of
// this build's migrations. It writes nothing, so a read-only connection
// can run it; readiness probes do.
func CheckMigrated(ctx context.Context, db *sql.DB, dialect goose.Dialect, types Types) error {
	provider, err := newProvider(db, dialect, types)
	if err != nil {
		return err
	}
	pending, err := provider.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check migrations: %w", err)
	}
	if pending {
		current, target, err := provider.GetVersions(ctx)
		if err != nil {
			return fmt.Errorf("check migrations: %w", err)
		}
		return fmt.Errorf("schema at migration %d, this build needs %d", current, target)
	}
	return nil
}

func newProvider(db *sql.DB, dialect goose.Dialect, types Types) (*goose.Provider, error) {
	pgOnly, sqliteOnly := "-- ", ""
	if types.Postgres {
		pgOnly, sqliteOnly = "", "-- "
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	rendered := renderFS{FS: sub, r: strings.NewReplacer("@ID@", types.ID, "@BYTES@", types.Bytes, "@PG@", pgOnly, "@SQLITE@", sqliteOnly)}
	provider, err := goose.NewProvider(dialect, db, rendered)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return provider, nil
}

// renderFS serves the embedded migrations with the engine's types
// substituted as goose reads them, so the rendered schema never needs a
// file system of its own. Directories pass through unchanged, so that
// goose can list them.
type renderFS struct {
	fs.FS
	r *strings.Replacer
}

// Open implements fs.FS.
func (f renderFS) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	info, err := file.Stat()
	if err != nil || info.IsDir() {
		return file, err
	}
	defer file.Close()
	data, err := io.ReadAll(file)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	text := f.r.Replace(string(data))
	return &renderedFile{Reader: strings.NewReader(text), info: renderedInfo{FileInfo: info, size: int64(len(text))}}, nil
}

// renderedFile is one rendered migration.
type renderedFile struct {
	*strings.Reader
	info renderedInfo
}

func (f *renderedFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *renderedFile) Close() error               { return nil }

// renderedInfo is the embedded file's info with the rendered size.
type renderedInfo struct {
	fs.FileInfo
	size int64
}

func (i renderedInfo) Size() int64 { return i.size }
