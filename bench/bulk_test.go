package bench

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// openEngine opens a fresh engine by name; PostgreSQL runs with CI=true,
// like the store tests.
func openEngine(t testing.TB, name, dir string) *Engine {
	t.Helper()
	if name == "postgres" && os.Getenv("CI") == "" {
		t.Skip("PostgreSQL runs with CI=true")
	}
	ctx := context.Background()
	var e *Engine
	var err error
	if name == "postgres" {
		e, err = OpenPostgres(ctx)
	} else {
		e, err = OpenSQLite(ctx, dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// bulkColumns are the columns of the tables Grow writes, timestamps left
// out because they follow the clock.
var bulkColumns = map[string][]string{
	"users":              {"id", "uuid", "email", "name"},
	"members":            {"id", "uuid", "org_id", "user_id", "name", "role", "status", "added_by"},
	"member_periods":     {"id", "member_id", "started_by"},
	"space_members":      {"id", "uuid", "org_id", "space_id", "member_id", "status", "added_by"},
	"space_member_roles": {"id", "space_member_id", "role", "granted_by"},
	"group_members":      {"id", "org_id", "group_id", "member_id", "status", "added_by"},
	"grants":             {"id", "uuid", "org_id", "resource_id", "member_id", "status"},
	"bookings":           {"id", "uuid", "org_id", "resource_id", "member_id", "starts_at", "ends_at", "status"},
}

// fingerprint hashes every row of the tables Grow writes, in id order.
// The store's UserUpsert gives users random UUIDs, so users.uuid counts
// only from user id bulkUser on, where the bench chooses them.
func fingerprint(ctx context.Context, c sqlstore.Conn, bulkUser int64) (string, error) {
	h := sha256.New()
	for _, table := range []string{"users", "members", "member_periods", "space_members", "space_member_roles", "group_members", "grants", "bookings"} {
		var cols []string
		for _, c := range bulkColumns[table] {
			if table == "users" && c == "uuid" {
				c = "CASE WHEN id >= " + strconv.FormatInt(bulkUser, 10) + " THEN uuid END"
			}
			cols = append(cols, "COALESCE(CAST("+c+" AS TEXT), '-')")
		}
		rows, err := c.Query(ctx, "SELECT "+strings.Join(cols, " || '|' || ")+" FROM "+table+" ORDER BY id")
		if err != nil {
			return "", err
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return "", err
			}
			h.Write([]byte(table + ":" + s + "\n"))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// TestGrowData pins the data Grow loads for one seed, whatever the chunk
// size or the loading code: the hash below was taken before the bulk
// loader was rewritten for speed, and a bulk-loaded member must still
// look like one loaded through the store. (The hash was checked against
// a dump of the old loader's rows, which differed only in the store's
// random user UUIDs that fingerprint leaves out.)
func TestGrowData(t *testing.T) {
	// The same on both engines: the data set is a function of the seed.
	const want = "6e63713a1b1fa6134b2dffb37110311f95652359a2242f29f738c8795b1e3ea6"
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := openEngine(t, name, t.TempDir())
			sh := DefaultShape(7)
			sh.ChunkMembers = 7000 // chunk borders inside the load, not on round numbers
			sh.BookingStartAt = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			d, err := Setup(ctx, e.Store, sh)
			if err != nil {
				t.Fatal(err)
			}
			cache := func() (kib int64) {
				if name != "sqlite" {
					return 0
				}
				if err := e.inTx(ctx, func(c sqlstore.Conn) error { return c.QueryRow(ctx, "PRAGMA cache_size").Scan(&kib) }); err != nil {
					t.Fatal(err)
				}
				return kib
			}
			before := cache()
			if err := d.Grow(ctx, e, 25000, nil); err != nil {
				t.Fatal(err)
			}
			if after := cache(); after != before {
				t.Errorf("writer cache_size %d after loading, want the store's %d back", after, before)
			}
			if err := d.Check(ctx, membership.NewService(e.Store, membership.DefaultConfig())); err != nil {
				t.Fatal(err)
			}
			if name == "postgres" {
				// Loading skips triggers (bulkPostgres), which is right
				// only while foreign keys are the only ones on the tables
				// it writes (configuration tables have triggers of their
				// own, which loading never touches), and migration 00017's
				// removed_members_on_insert, which fires only for a member
				// inserted already removed: loading writes active ones, and
				// removed_members must still hold exactly the removed; and
				// migration 00023's grants_member_holds,
				// bookings_member_holds and members_email, whose columns
				// loading writes itself: no flag may say "none" for a
				// member that has one, no e-mail differ from the user's.
				var n int
				if err := e.queryRow(ctx, `SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
					WHERE NOT t.tgisinternal AND t.tgname NOT IN ('removed_members_on_insert', 'grants_member_holds', 'bookings_member_holds', 'members_email') AND c.relname IN ('users',
					'members', 'member_periods', 'space_members', 'space_member_roles', 'group_members', 'grants', 'bookings')`, &n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("the loaded tables have %d triggers besides foreign keys, which PostgreSQL's bulk loading skips", n)
				}
				var removed, listed int
				if err := e.queryRow(ctx, `SELECT (SELECT count(*) FROM members WHERE status = 'removed'),
					(SELECT count(*) FROM removed_members r JOIN members m ON m.id = r.member_id AND m.org_id = r.org_id AND m.status = 'removed')`,
					&removed, &listed); err != nil {
					t.Fatal(err)
				}
				if removed != listed {
					t.Errorf("after loading, %d members are removed and removed_members lists %d of them", removed, listed)
				}
				var copies int
				if err := e.queryRow(ctx, `SELECT count(*) FROM members m JOIN users u ON u.id = m.user_id WHERE m.email IS DISTINCT FROM u.email`, &copies); err != nil {
					t.Fatal(err)
				}
				if copies != 0 {
					t.Errorf("after loading, %d members' e-mail differs from their user's", copies)
				}
				var grants, bookings, flagged int
				if err := e.queryRow(ctx, `SELECT (SELECT count(*) FROM grants g JOIN members m ON m.id = g.member_id WHERE g.status = 'active' AND NOT m.holds_grants),
					(SELECT count(*) FROM bookings b JOIN members m ON m.id = b.member_id WHERE b.status = 'active' AND NOT m.holds_bookings),
					(SELECT count(*) FROM members WHERE holds_grants OR holds_bookings)`, &grants, &bookings, &flagged); err != nil {
					t.Fatal(err)
				}
				if grants != 0 || bookings != 0 {
					t.Errorf("after loading, %d active direct grants and %d active bookings belong to members whose flag says none", grants, bookings)
				}
				// Flags on every member would pass the check above and save
				// the removals nothing: loading sets them only where a grant
				// or booking is (1 in DirectEvery, 1 in BookingEvery).
				if max := d.Members/sh.DirectEvery + d.Members/sh.BookingEvery + 2; flagged > max {
					t.Errorf("after loading, %d members flagged as holding grants or bookings, want at most %d", flagged, max)
				}
			}
			var got string
			if err := e.inTx(ctx, func(c sqlstore.Conn) error {
				var bulkUser int64
				if err := c.QueryRow(ctx, "SELECT user_id FROM members WHERE id = $1", d.MemberID(TxMembers)).Scan(&bulkUser); err != nil {
					return err
				}
				got, err = fingerprint(ctx, c, bulkUser)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("data fingerprint %s, want %s", got, want)
			}
		})
	}
}

// TestLoadRate measures how fast Grow loads members, for tuning the bulk
// loader rather than for the report: MEMBERD_BENCH_LOAD=engine:size,size...
// (say sqlite:1000000,2000000) grows to each size in turn and logs the
// members per second of each step; MEMBERD_BENCH_LOAD_CHUNK,
// MEMBERD_BENCH_LOAD_SQLITE_CACHE_KIB and MEMBERD_BENCH_LOAD_SQLITE_ROWS
// override the loader's knobs, and MEMBERD_BENCH_LOAD_DIR says where the
// SQLite database goes. Without it the test skips.
func TestLoadRate(t *testing.T) {
	spec := os.Getenv("MEMBERD_BENCH_LOAD")
	if spec == "" {
		t.Skip("set MEMBERD_BENCH_LOAD=engine:size,size... to measure loading")
	}
	name, sizes, _ := strings.Cut(spec, ":")
	dir := os.Getenv("MEMBERD_BENCH_LOAD_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	ctx := context.Background()
	e := openEngine(t, name, dir)
	sh := DefaultShape(1)
	knob := func(env string, v *int) {
		if s := os.Getenv(env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("%s: %v", env, err)
			}
			*v = n
		}
	}
	knob("MEMBERD_BENCH_LOAD_CHUNK", &sh.ChunkMembers)
	knob("MEMBERD_BENCH_LOAD_SQLITE_CACHE_KIB", &sqliteLoadCacheKiB)
	knob("MEMBERD_BENCH_LOAD_SQLITE_ROWS", &sqliteRowsPerInsert)
	t.Logf("chunks of %d members; SQLite: %d KiB cache, %d rows an INSERT", sh.ChunkMembers, sqliteLoadCacheKiB, sqliteRowsPerInsert)
	d, err := Setup(ctx, e.Store, sh)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		from, start, cpu := d.Members, time.Now(), cpuTime()
		if err := d.Grow(ctx, e, n, nil); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		// The harness's own CPU as well: on a shared machine the wall
		// clock also measures the neighbours.
		t.Logf("%s: %d -> %d members in %s: %.0f members/s (harness CPU %s)", name, from, n, el.Round(time.Millisecond),
			float64(n-from)/el.Seconds(), (cpuTime() - cpu).Round(time.Millisecond))
	}
}

// TestNamesMatchFmt pins the hand-made formatting of the bulk loader to
// the fmt verbs it replaced.
func TestNamesMatchFmt(t *testing.T) {
	for _, i := range []int{0, 7, 12345678, 99999999, 100000000, 123456789} {
		if got, want := memberEmail(i), fmt.Sprintf("m%08d@bench.test", i); got != want {
			t.Errorf("memberEmail(%d) = %s, want %s", i, got, want)
		}
		if got, want := memberName(i), fmt.Sprintf("Member %d", i); got != want {
			t.Errorf("memberName(%d) = %s, want %s", i, got, want)
		}
	}
	for i := range uint64(1000) {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], mix(3, kindUser, i))
		binary.BigEndian.PutUint64(b[8:], mix(3, kindUser, i^0xffffffff00000000))
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		if got, want := uuidFor(3, kindUser, i), fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]); got != want {
			t.Fatalf("uuidFor(3, user, %d) = %s, want %s", i, got, want)
		}
	}
}

// cpuTime is the user and system CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
