package sqlstore

import (
	"sync"

	"github.com/memberd/memberd/membership"
)

// ConfigCache keeps each organization's removal policy and webhook
// endpoints, which every removal reads and hardly anything changes, for
// an engine whose data several nodes change (PostgreSQL), where a
// WriterCache would be stale. Every copy is kept with the organization's
// configuration version (Dialect.ConfigVersions), which every change of
// either moves in its own transaction, and it answers only a caller that
// read that same version earlier in its transaction: the statement that
// locks a removal's member reads it along (MemberGetActing), so a removal
// that began after a change was acknowledged reads the new version and
// then the new configuration.
//
// A copy is read after the version it is kept at, in the same
// transaction: it holds that version's configuration or a later one,
// never an earlier. A later one is no stale answer either: a caller that
// reads the version it is kept at began before that later change was
// acknowledged. Versions are never taken twice (a sequence), and a
// transaction that changed the configuration itself keeps nothing, so a
// change that rolls back leaves no copy behind.
type ConfigCache struct {
	mu        sync.Mutex
	policies  map[int64]versioned[membership.Policy]
	endpoints map[int64]versioned[[]membership.WebhookEndpoint]
}

// versioned is a copy and the configuration version it was read at.
type versioned[T any] struct {
	version int64
	v       T
}

// configRead is the configuration version a caller read, of org.
type configRead struct {
	org, version int64
	ok           bool
}

// NewConfigCache returns an empty cache.
func NewConfigCache() *ConfigCache {
	return &ConfigCache{policies: map[int64]versioned[membership.Policy]{},
		endpoints: map[int64]versioned[[]membership.WebhookEndpoint]{}}
}

// UseConfigCache has t read and keep organizations' endpoints and
// policies through c, when it read their version (Dialect.ConfigVersions).
func (t *Tx) UseConfigCache(c *ConfigCache) { t.configs = c }

// configAt returns the cache and the version t's caller read of orgID's
// configuration, if the cache may answer for it: not once t changed
// some configuration itself.
func (t *Tx) configAt(orgID int64) (*ConfigCache, int64, bool) {
	if t.configs == nil || !t.config.ok || t.config.org != orgID || t.cacheDirty {
		return nil, 0, false
	}
	return t.configs, t.config.version, true
}

func (c *ConfigCache) policyAt(orgID, version int64) (*membership.Policy, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.policies[orgID]
	if !ok || p.version != version {
		return nil, false
	}
	v := p.v
	return &v, true
}

func (c *ConfigCache) keepPolicy(version int64, p *membership.Policy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.policies) >= maxCachedOrgs {
		clear(c.policies)
	}
	c.policies[p.OrgID] = versioned[membership.Policy]{version: version, v: *p}
}

func (c *ConfigCache) endpointsAt(orgID, version int64) ([]*membership.WebhookEndpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.endpoints[orgID]
	if !ok || e.version != version {
		return nil, false
	}
	return copyEndpoints(e.v), true
}

func (c *ConfigCache) keepEndpoints(orgID, version int64, eps []*membership.WebhookEndpoint) {
	kept := keptEndpoints(eps)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.endpoints) >= maxCachedOrgs {
		clear(c.endpoints)
	}
	c.endpoints[orgID] = versioned[[]membership.WebhookEndpoint]{version: version, v: kept}
}
