// Package uuidform owns the one textual form of a UUID that memberd takes
// from clients in paths, queries and bodies: the canonical 8-4-4-4-12
// hexadecimal form, in either case.
package uuidform

import "github.com/google/uuid"

// Canonical reports whether s is a UUID in the canonical 8-4-4-4-12 form,
// in either case. uuid.Validate alone also takes the braced, urn:uuid: and
// bare 32-digit forms, which no interface has ever accepted; the length
// keeps them out.
func Canonical(s string) bool {
	return len(s) == 36 && uuid.Validate(s) == nil
}
