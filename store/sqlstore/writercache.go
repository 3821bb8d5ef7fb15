package sqlstore

import (
	"sync"

	"github.com/memberd/memberd/membership"
)

// maxCachedOrgs bounds the organizations a WriterCache holds; past it the
// cache starts over, which costs each organization one read.
const maxCachedOrgs = 10000

// WriterCache keeps what every removal reads and hardly anything changes,
// each organization's webhook endpoints and removal policy, between the
// write transactions of an engine with a single writer (SQLite), so that a
// removal need not read them every time.
//
// It is exact because every statement that changes webhook_endpoints or
// removal_policies runs in a Tx and forgets the organization's entries,
// and the single writer runs one transaction at a time: a transaction that
// changed them never fills the cache (its changes may yet roll back), so
// the next one reads them again from the database. Only the writer's
// transactions use it. An engine whose data other processes change
// (PostgreSQL with several nodes) must not use it.
type WriterCache struct {
	mu        sync.Mutex
	endpoints map[int64][]membership.WebhookEndpoint
	policies  map[int64]membership.Policy
}

// NewWriterCache returns an empty cache.
func NewWriterCache() *WriterCache {
	return &WriterCache{endpoints: map[int64][]membership.WebhookEndpoint{}, policies: map[int64]membership.Policy{}}
}

func (c *WriterCache) endpointsOf(orgID int64) ([]*membership.WebhookEndpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	eps, ok := c.endpoints[orgID]
	if !ok {
		return nil, false
	}
	return copyEndpoints(eps), true
}

func (c *WriterCache) keepEndpoints(orgID int64, eps []*membership.WebhookEndpoint) {
	kept := keptEndpoints(eps)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.endpoints) >= maxCachedOrgs {
		clear(c.endpoints)
	}
	c.endpoints[orgID] = kept
}

func (c *WriterCache) policyOf(orgID int64) (*membership.Policy, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.policies[orgID]
	return &p, ok
}

func (c *WriterCache) keepPolicy(p *membership.Policy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.policies) >= maxCachedOrgs {
		clear(c.policies)
	}
	c.policies[p.OrgID] = *p
}

// forget drops orgID's entries, or every entry when orgID is 0.
func (c *WriterCache) forget(orgID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if orgID == 0 {
		clear(c.endpoints)
		clear(c.policies)
		return
	}
	delete(c.endpoints, orgID)
	delete(c.policies, orgID)
}

// keptEndpoints copies eps for a cache, so that a caller changing one
// afterwards cannot change the cache.
func keptEndpoints(eps []*membership.WebhookEndpoint) []membership.WebhookEndpoint {
	kept := make([]membership.WebhookEndpoint, len(eps))
	for i, e := range eps {
		kept[i] = *e
		kept[i].Events = append([]string(nil), e.Events...)
	}
	return kept
}

// copyEndpoints hands out copies, so that a caller changing one cannot
// change the cache.
func copyEndpoints(eps []membership.WebhookEndpoint) []*membership.WebhookEndpoint {
	out := make([]*membership.WebhookEndpoint, len(eps))
	for i := range eps {
		e := eps[i]
		e.Events = append([]string(nil), e.Events...)
		out[i] = &e
	}
	return out
}

// UseWriterCache has t, a transaction of the engine's single writer,
// read and keep organizations' endpoints and policies through c.
func (t *Tx) UseWriterCache(c *WriterCache) { t.cache = c }

// cached returns the cache t may read and fill: none once t has changed
// what it holds.
func (t *Tx) cached() *WriterCache {
	if t.cacheDirty {
		return nil
	}
	return t.cache
}

// cachedChanged forgets orgID's entries (every organization's when 0)
// and stops t from filling the cache with what it now reads.
func (t *Tx) cachedChanged(orgID int64) {
	t.cacheDirty = true // also for a ConfigCache
	if t.cache == nil {
		return
	}
	t.cache.forget(orgID)
}
