package sqlstore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
)

// The migration that rewrites old action names holds exactly
// membership.LegacyActions, so that stored and new events share one
// vocabulary.
func TestAuditChainMigrationRenamesLegacyActions(t *testing.T) {
	data, err := migrations.ReadFile("migrations/00008_audit_chain.sql")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for old, now := range membership.LegacyActions {
		if want := fmt.Sprintf("WHEN '%s' THEN '%s'\n", old, now); !strings.Contains(text, want) {
			t.Errorf("migration lacks %q", strings.TrimSpace(want))
		}
	}
	if got, want := strings.Count(text, "    WHEN '"), len(membership.LegacyActions); got != want {
		t.Errorf("migration renames %d names, LegacyActions %d", got, want)
	}
}
