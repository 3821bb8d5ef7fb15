package sqlstore

import (
	"sync"

	"github.com/memberd/memberd/membership"
)

// maxCachedOrgs bounds the organizations an EndpointCache holds; past it
// the cache starts over, which costs each organization one read.
const maxCachedOrgs = 10000

// EndpointCache keeps each organization's webhook endpoints between the
// write transactions of an engine with a single writer (SQLite), so that
// publishing a removal's event need not list them every time.
//
// It is exact because every statement that changes webhook_endpoints runs
// in a Tx and forgets the organization's entry, and the single writer runs
// one transaction at a time: a transaction that changed endpoints never
// fills the cache (its changes may yet roll back), so the next one reads
// them again from the database. Only the writer's transactions use it.
// An engine whose data other processes change (PostgreSQL with several
// nodes) must not use it.
type EndpointCache struct {
	mu   sync.Mutex
	orgs map[int64][]membership.WebhookEndpoint
}

// NewEndpointCache returns an empty cache.
func NewEndpointCache() *EndpointCache {
	return &EndpointCache{orgs: map[int64][]membership.WebhookEndpoint{}}
}

func (c *EndpointCache) get(orgID int64) ([]*membership.WebhookEndpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	eps, ok := c.orgs[orgID]
	if !ok {
		return nil, false
	}
	return copyEndpoints(eps), true
}

func (c *EndpointCache) put(orgID int64, eps []*membership.WebhookEndpoint) {
	kept := make([]membership.WebhookEndpoint, len(eps))
	for i, e := range eps {
		kept[i] = *e
		kept[i].Events = append([]string(nil), e.Events...)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.orgs) >= maxCachedOrgs {
		clear(c.orgs)
	}
	c.orgs[orgID] = kept
}

// forget drops orgID's entry, or every entry when orgID is 0.
func (c *EndpointCache) forget(orgID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if orgID == 0 {
		clear(c.orgs)
		return
	}
	delete(c.orgs, orgID)
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

// UseEndpointCache has t, a transaction of the engine's single writer,
// read and keep organizations' webhook endpoints through c.
func (t *Tx) UseEndpointCache(c *EndpointCache) { t.endpoints = c }

// endpointsChanged forgets orgID's endpoints (every organization's when
// 0) and stops t from filling the cache with what it now reads.
func (t *Tx) endpointsChanged(orgID int64) {
	if t.endpoints == nil {
		return
	}
	t.endpointsDirty = true
	t.endpoints.forget(orgID)
}
