package membership

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/memberd/memberd/internal/etag"
)

// A resource's ETag is a digest of its representation: the JSON every
// interface that shows it renders from these types. It is exact: whatever
// the representation shows changes the tag, two changes within one clock
// tick included, and nothing it does not show does. The tag names the
// kind too, so a member and a group that happened to render alike would
// still differ.

// resourceHex is how many hex digits of the digest a resource tag keeps:
// 128 bits, and no dots, so it never reads as a plan tag.
const resourceHex = 32

// ETagOf is the strong ETag, quoted as the header sends it, of a member,
// space, group, space membership or group membership as it reads now.
func ETagOf(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		// These types are plain data that always encode; a failure is a
		// programming error, and a tag that matches nothing is its safe side.
		return `"unencodable"`
	}
	h := sha256.New()
	fmt.Fprintf(h, "%T\n", v)
	h.Write(data)
	return `"` + hex.EncodeToString(h.Sum(nil))[:resourceHex] + `"`
}

// ParseIfMatch reads an If-Match header's value, refusing with
// CodeInvalid what is neither "*" nor a list of quoted entity tags.
func ParseIfMatch(header string) (etag.List, error) {
	l, err := etag.Parse(header)
	if err != nil {
		return l, Errorf(CodeInvalid, "If-Match %v", err)
	}
	return l, nil
}

// preconditionFailed refuses a change to the resource named what (as "member
// 12") whose If-Match no longer names its ETag.
func preconditionFailed(what string) error {
	return &Error{Code: CodePreconditionFailed, Err: ErrPreconditionFailed, Message: fmt.Sprintf(
		"%s changed since the ETag in If-Match was read, and nothing was changed; get it again for its current ETag", what)}
}

// precondition applies the If-Match ctx's Guard carries to a change of
// the resource named what, whose representation as read, locked, in the
// change's transaction is v: the change goes ahead only while v still
// has one of the tags, so a concurrent change cannot slip in between the
// check and the write. No If-Match lets any change through.
func precondition(ctx context.Context, what string, v any) error {
	g := guardOf(ctx)
	if g == nil || g.IfMatch == "" {
		return nil
	}
	l, err := ParseIfMatch(g.IfMatch)
	if err != nil {
		return err
	}
	if l.Empty() || l.MatchStrong(ETagOf(v)) {
		return nil
	}
	return preconditionFailed(what)
}

// noteResource records, for a single removal checked against If-Match,
// the resource the removal is about (its member, or its space or group
// membership) as it read locked, before any change: an If-Match naming
// that resource's ETag lets the removal through, as a plan tag does. When
// If-Match names neither a plan tag nor this ETag, the removal is refused
// here, before it changes anything.
func noteResource(ctx context.Context, what string, v any) error {
	g := guardOf(ctx)
	if g == nil || !g.on || !g.single || g.resourceTag != "" || g.IfMatch == "" || g.dry {
		return nil
	}
	g.resource, g.resourceTag = what, ETagOf(v)
	l, err := ParseIfMatch(g.IfMatch)
	if err != nil {
		return err
	}
	if l.Empty() || l.MatchStrong(g.resourceTag) {
		return nil
	}
	for _, t := range l.Tags {
		if isPlanTag(t) {
			return nil // finish compares it once the removal's effect is known
		}
	}
	return preconditionFailed(what)
}

// memberName, spaceMembershipName and groupMembershipName name a
// resource in a refusal the way the native API addresses it.
func memberName(m *Member) string { return fmt.Sprintf("member %d", m.ID) }

func spaceMembershipName(sm *SpaceMember) string {
	return fmt.Sprintf("space membership %d", sm.ID)
}

func groupMembershipName(gm *GroupMember) string {
	return fmt.Sprintf("the membership of member %d in group %d", gm.MemberID, gm.GroupID)
}
