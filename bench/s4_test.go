package bench

import (
	"context"
	"os"
	"testing"

	"github.com/memberd/memberd/membership"
)

// BenchmarkS4 measures the S4 offboarding in-process (no HTTP) on each
// engine: the dry run, and the removal itself on the remaining subjects.
// PostgreSQL runs with CI=true, like the store tests.
func BenchmarkS4(b *testing.B) {
	open := map[string]func(context.Context) (*Engine, error){
		"sqlite":   func(ctx context.Context) (*Engine, error) { return OpenSQLite(ctx, b.TempDir()) },
		"postgres": func(ctx context.Context) (*Engine, error) { return OpenPostgres(ctx) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			if name == "postgres" && os.Getenv("CI") == "" {
				b.Skip("PostgreSQL runs with CI=true")
			}
			ctx := context.Background()
			e, err := open[name](ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			d, err := Setup(ctx, e.Store, DefaultShape(1))
			if err != nil {
				b.Fatal(err)
			}
			svc := membership.NewService(e.Store, membership.DefaultConfig())
			subject := membership.MemberRef{ID: d.S4[0]}
			b.Run("dry-run", func(b *testing.B) {
				for b.Loop() {
					if _, err := svc.RemoveMember(ctx, d.Actor("native"), membership.RemoveMemberRequest{Member: subject, DryRun: true}); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("remove", func(b *testing.B) {
				i := 0
				for b.Loop() {
					if i == len(d.S4) {
						b.Skip("out of subjects") // each removal needs a fresh subject
					}
					if _, err := svc.RemoveMember(ctx, d.Actor("native"), membership.RemoveMemberRequest{Member: membership.MemberRef{ID: d.S4[i]}}); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}
