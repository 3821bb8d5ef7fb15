package sqlite

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/memberd/memberd/membership"
)

// accessData is what an access check by numeric ids reads, as rows of the
// database: each member's organization and status, each resource's
// organization and space, every active space membership, group membership
// and grant, and each organization's access epoch. It answers exactly as
// the check's statement (sqlstore's accessCheckStatement) does on the same
// rows; TestAccessMemoryMatchesStatement holds that.
//
// Everything is kept in slices indexed by row id, with the active rows of
// a kind linked into per-member (or per-resource) lists through their ids:
// no pointers, so the collector never scans it, outside the Go heap
// (makeOffHeap), and about 70 bytes a member at the benchmark's shape (two
// spaces and a group each).
type accessData struct {
	members   []memberRow   // by members.id
	resources []resourceRow // by resources.id
	// Active rows, by id, linked into their owner's list: space and group
	// memberships and direct grants into their member's, group grants into
	// their resource's.
	spaceRows, groupRows, directRows, groupGrantRows []linkRow
	linked                                           int             // rows linked
	memberCount                                      int             // members rows there
	heads                                            map[int64]int64 // event_chain_heads rowid → organization
	epochs                                           map[int64]int64 // organization → access epoch
}

// bytesPerMember is the copy's budget for all its rows, per member it
// holds: twice what the benchmark's shape takes (two spaces, a group and a
// tenth of a direct grant a member), so that rows a member no longer uses
// (ended memberships keep their ids) have room before the copy turns off;
// bytesBase is the budget's floor, for small organizations.
const (
	bytesPerMember = 160
	bytesBase      = 16 << 20
)

// within returns errAccessTooLarge unless d holds at most maxMembers
// members in at most their budget of bytes.
func (d *accessData) within(maxMembers int) error {
	if d.memberCount > maxMembers {
		return fmt.Errorf("%w (%d members, at most %d)", errAccessTooLarge, d.memberCount, maxMembers)
	}
	if b, limit := d.bytes(), int64(d.memberCount)*bytesPerMember+bytesBase; b > limit {
		return fmt.Errorf("%w (%d bytes of rows, at most %d)", errAccessTooLarge, b, limit)
	}
	return nil
}

// bytes is the memory d's rows take.
func (d *accessData) bytes() int64 {
	n := int64(cap(d.members))*int64(unsafe.Sizeof(memberRow{})) + int64(cap(d.resources))*int64(unsafe.Sizeof(resourceRow{}))
	for _, k := range []linkKind{linkSpace, linkGroup, linkDirect, linkGroupGrant} {
		n += int64(cap(*d.rowsOf(k))) * int64(unsafe.Sizeof(linkRow{}))
	}
	return n
}

// memberRow is a member; org 0: no such member.
type memberRow struct {
	org    uint32
	active bool
	// Heads (row ids, 0: empty) of the member's lists of active space
	// memberships, group memberships and direct grants.
	spaces, groups, grants int32
}

// resourceRow is a resource; org 0: no such resource.
type resourceRow struct {
	org    uint32
	space  int32 // 0: in no space
	groups int32 // head of its list of active group grants
}

// linkRow is a row in its owner's list: a member's (space membership,
// group membership, direct grant) or a resource's (group grant).
type linkRow struct {
	owner      int32 // 0: the row is not active, or not there
	other      int32 // the space, group, resource or group it names
	prev, next int32
}

var (
	// errAccessIDs: an id too large for the compact rows. The copy turns
	// itself off; checks read the database.
	errAccessIDs = errors.New("access memory: an id does not fit in 31 bits")
	// errAccessSparse: ids so far apart that slices indexed by them would
	// be mostly empty.
	errAccessSparse = errors.New("access memory: ids too sparse")
	// errAccessMemory: the system refused the memory.
	errAccessMemory = errors.New("access memory: no memory for it")
)

// sparseSlack is how far past twice its length a slice indexed by id may
// grow for one id.
const sparseSlack = 1 << 20

func newAccessData() *accessData {
	return &accessData{heads: map[int64]int64{}, epochs: map[int64]int64{}}
}

// grow returns s long enough to hold index id.
func grow[T any](s []T, id int64) ([]T, error) {
	switch {
	case id <= 0 || id > math.MaxInt32:
		return s, errAccessIDs
	case id < int64(len(s)):
		return s, nil
	case id > 2*int64(len(s))+sparseSlack:
		return s, errAccessSparse
	}
	return resize(s, max(id+1, int64(len(s))*5/4, 1024))
}

// resize returns s's rows in n rows off the heap, and frees s.
func resize[T any](s []T, n int64) ([]T, error) {
	ns := makeOffHeap[T](int(n))
	if ns == nil {
		return s, errAccessMemory
	}
	copy(ns, s)
	freeOffHeap(s)
	return ns, nil
}

// free returns d's rows to the system; d is not used again.
func (d *accessData) free() {
	freeOffHeap(d.members)
	freeOffHeap(d.resources)
	for _, k := range []linkKind{linkSpace, linkGroup, linkDirect, linkGroupGrant} {
		freeOffHeap(*d.rowsOf(k))
	}
	*d = accessData{}
}

func fitsOrg(org int64) bool { return org > 0 && org <= math.MaxUint32 }

// setMember records members row id as it is now.
func (d *accessData) setMember(id, org int64, active, exists bool) (err error) {
	if d.members, err = grow(d.members, id); err != nil {
		return err
	}
	m := &d.members[id]
	was := m.org != 0
	switch {
	case !exists:
		m.org, m.active = 0, false
	case !fitsOrg(org):
		return errAccessIDs
	default:
		m.org, m.active = uint32(org), active
	}
	if is := m.org != 0; is != was {
		if is {
			d.memberCount++
		} else {
			d.memberCount--
		}
	}
	return nil
}

// setResource records resources row id as it is now.
func (d *accessData) setResource(id, org, space int64, exists bool) (err error) {
	if d.resources, err = grow(d.resources, id); err != nil {
		return err
	}
	r := &d.resources[id]
	switch {
	case !exists:
		r.org, r.space = 0, 0
	case !fitsOrg(org) || space < 0 || space > math.MaxInt32:
		return errAccessIDs
	default:
		r.org, r.space = uint32(org), int32(space)
	}
	return nil
}

// setHead records event_chain_heads row rowid as it is now.
func (d *accessData) setHead(rowid, org, seq int64, exists bool) {
	if old, ok := d.heads[rowid]; ok {
		delete(d.epochs, old)
		delete(d.heads, rowid)
	}
	if exists {
		d.heads[rowid], d.epochs[org] = org, seq
	}
}

// linkKind names one of the lists a linkRow can be in.
type linkKind uint8

const (
	linkSpace linkKind = iota
	linkGroup
	linkDirect
	linkGroupGrant
)

// rowsOf is the rows of kind k.
func (d *accessData) rowsOf(k linkKind) *[]linkRow {
	switch k {
	case linkSpace:
		return &d.spaceRows
	case linkGroup:
		return &d.groupRows
	case linkDirect:
		return &d.directRows
	default:
		return &d.groupGrantRows
	}
}

// list is the rows of kind k and the head of owner's list.
func (d *accessData) list(k linkKind, owner int32) (*[]linkRow, *int32) {
	switch k {
	case linkSpace:
		return &d.spaceRows, &d.members[owner].spaces
	case linkGroup:
		return &d.groupRows, &d.members[owner].groups
	case linkDirect:
		return &d.directRows, &d.members[owner].grants
	default:
		return &d.groupGrantRows, &d.resources[owner].groups
	}
}

// setLink records row id of kind k as it is now: active and in owner's
// list naming other, or not.
func (d *accessData) setLink(k linkKind, id, owner, other int64, active bool) error {
	rows := d.rowsOf(k)
	var err error
	if *rows, err = grow(*rows, id); err != nil {
		return err
	}
	if old := (*rows)[id].owner; old != 0 {
		d.unlink(k, int32(id), old)
	}
	if !active {
		return nil
	}
	if other <= 0 || other > math.MaxInt32 {
		return errAccessIDs
	}
	// The owner's row may not be known yet (its change is applied with
	// this one, or the row is gone): grow makes room, and an owner with
	// org 0 answers no check.
	if k == linkGroupGrant {
		d.resources, err = grow(d.resources, owner)
	} else {
		d.members, err = grow(d.members, owner)
	}
	if err != nil {
		return err
	}
	rows, head := d.list(k, int32(owner))
	r := &(*rows)[id]
	r.owner, r.other, r.prev, r.next = int32(owner), int32(other), 0, *head
	if *head != 0 {
		(*rows)[*head].prev = int32(id)
	}
	*head = int32(id)
	d.linked++
	return nil
}

func (d *accessData) unlink(k linkKind, id, owner int32) {
	rows, head := d.list(k, owner)
	r := &(*rows)[id]
	if r.prev != 0 {
		(*rows)[r.prev].next = r.next
	} else {
		*head = r.next
	}
	if r.next != 0 {
		(*rows)[r.next].prev = r.prev
	}
	*r = linkRow{}
	d.linked--
}

// has reports whether owner's list of kind k holds a row naming other.
func (d *accessData) has(k linkKind, owner, other int32) bool {
	rows, head := d.list(k, owner)
	for id := *head; id != 0; id = (*rows)[id].next {
		if (*rows)[id].other == other {
			return true
		}
	}
	return false
}

// check answers member's access to resource in org, as the check's
// statement does: both found by id in the organization, and the paths
// (a direct grant, each active grant to a group the member is in) only
// for an active member inside the resource's space when it has one.
func (d *accessData) check(org, member, resource int64) *membership.AccessAnswer {
	ans := &membership.AccessAnswer{Epoch: d.epochs[org], Access: &membership.Access{}}
	var m *memberRow
	var r *resourceRow
	if member < int64(len(d.members)) && d.members[member].org == uint32(org) {
		m = &d.members[member]
	}
	if resource < int64(len(d.resources)) && d.resources[resource].org == uint32(org) {
		r = &d.resources[resource]
		ans.Access.ResourceID = resource
	}
	ans.MemberFound, ans.ResourceFound = m != nil, r != nil
	if m == nil || r == nil || !m.active {
		return ans
	}
	mid := int32(member)
	if r.space != 0 && !d.has(linkSpace, mid, r.space) {
		return ans
	}
	a := ans.Access
	for id := m.grants; id != 0; id = d.directRows[id].next {
		if d.directRows[id].other == int32(resource) {
			a.Allowed, a.Direct = true, true
			break
		}
	}
	// One entry a grant, as the statement has one row a grant: a group
	// granted the resource twice is listed twice.
	for id := r.groups; id != 0; id = d.groupGrantRows[id].next {
		if g := d.groupGrantRows[id].other; d.has(linkGroup, mid, g) {
			a.Allowed = true
			a.GroupIDs = append(a.GroupIDs, int64(g))
		}
	}
	slices.Sort(a.GroupIDs)
	return ans
}

// size is how many members and active rows the copy holds.
func (d *accessData) size() string {
	n := 0
	for i := range d.members {
		if d.members[i].org != 0 {
			n++
		}
	}
	return fmt.Sprintf("%d members, %d active memberships and grants", n, d.linked)
}
