package bench

import "fmt"

// Every scenario but S3 and S4 removes members nobody removed before it
// (picker), so a run needs as many regular members as it removes, at
// every size it reaches. These count what a run removes at most: each
// over-HTTP loop as configured, whether or not the server turns out to
// mount its route.

// removalsBeforeS6 counts what the main size's scenarios remove before
// S6 runs, S5 excluded: S1 and S2 over HTTP.
func (c *Config) removalsBeforeS6() int {
	n := 0
	if c.Scenarios["S1"] {
		n += c.S1Requests * 100
	}
	if c.Scenarios["S2"] {
		n += len(c.S2Levels) * c.S2Requests
	}
	return n
}

// removalsAfterS6 counts what the main size removes after S6 on engine:
// S2 over HTTP without group commit, the floors, the statement counts and
// the query plans.
func (c *Config) removalsAfterS6(engine string) int {
	n := 2 + 1 // checkStatements, plans
	if c.Scenarios["S1"] {
		n += 2 * c.FloorBatches * 100 // the store floor, then the recorded batches
	}
	if c.Scenarios["S2"] {
		if c.CompareGroup {
			n += len(c.S2Levels) * c.S2Requests
		}
		n += len(groupModes(engine))*len(c.S2Levels)*c.FloorRequests + 2*c.FloorRequests // store floors, raw floors at 1 and 16
	}
	return n
}

// CheckSizes refuses a configuration whose scenarios would remove more
// members than a size holds, before anything is loaded. S6 is not
// counted: it runs only when the members it needs are left beside what
// runs after it, and says so in a note when they are not.
func (c *Config) CheckSizes() error {
	for _, engine := range c.Engines {
		removed, sizes, main := 0, 0, ""
		for _, size := range c.Sizes {
			if limit := c.MaxSize[engine]; limit > 0 && size > limit {
				continue
			}
			sizes++
			if c.Scenarios["S5"] {
				removed += c.S5Requests
			}
			if size == c.Main {
				before, after := c.removalsBeforeS6(), c.removalsAfterS6(engine)
				removed += before + after
				main = fmt.Sprintf(", S1 and S2 %d, the floors, S2 without group commit and the plans %d at the main size", before, after)
			}
			if removed > size {
				s5 := 0
				if c.Scenarios["S5"] {
					s5 = c.S5Requests
				}
				return fmt.Errorf("%s: by %d members the scenarios remove up to %d (S5 %d at each of the %d sizes so far%s): make -main or -sizes larger or the counts (-s1, -s2, -s5, -floor) smaller",
					engine, size, removed, s5, sizes, main)
			}
		}
	}
	return nil
}
