package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"testing/fstest"

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
	// storage settings SQLite has no equivalent of.
	Postgres bool
}

// Migrate brings db's schema up to date with goose. The one schema is
// rendered with the engine's types, so the engines cannot drift apart.
func Migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, types Types) error {
	rendered := fstest.MapFS{}
	pgOnly := "-- "
	if types.Postgres {
		pgOnly = ""
	}
	err := fs.WalkDir(migrations, "migrations", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := migrations.ReadFile(path)
		if err != nil {
			return err
		}
		text := strings.NewReplacer("@ID@", types.ID, "@BYTES@", types.Bytes, "@PG@", pgOnly).Replace(string(data))
		rendered[strings.TrimPrefix(path, "migrations/")] = &fstest.MapFile{Data: []byte(text)}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	provider, err := goose.NewProvider(dialect, db, rendered)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
