package usage

import (
	"context"
	"slices"
	"sync"
	"time"
)

// NameCache keeps a provider's source list (projects, keys, workspaces and their names) between
// fetches, so a poll that re-reads recent usage does not list them again. The list is read again
// once it is TTL old, or at once when a batch's usage or costs name a source it lacks (a key made
// since), so attribution never waits for the TTL. A source still missing from a fresh list (a
// deleted key, the default project) does not force another listing before the TTL. The zero TTL
// lists every time. It is safe for concurrent use.
type NameCache struct {
	TTL time.Duration

	mu     sync.Mutex
	at     time.Time
	names  []SourceInfo
	known  map[SourceRef]bool // listed, or absent from the last listing
	listed bool
}

// Caching reports whether the cache keeps listings between fetches at all.
func (c *NameCache) Caching() bool { return c != nil && c.TTL > 0 }

// Sources returns the source list for b, calling list when the cache cannot answer.
func (c *NameCache) Sources(ctx context.Context, now time.Time, b *Batch, list func(context.Context) ([]SourceInfo, error)) ([]SourceInfo, error) {
	if c == nil || c.TTL <= 0 {
		return list(ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.listed && now.Sub(c.at) < c.TTL && !now.Before(c.at) && c.covers(b, nil) {
		return slices.Clone(c.names), nil
	}
	names, err := list(ctx)
	if err != nil {
		return nil, err
	}
	c.names, c.at, c.listed = names, now, true
	c.known = make(map[SourceRef]bool, len(names))
	for _, s := range names {
		c.known[s.Ref] = true
	}
	c.covers(b, c.known) // what the listing lacks is remembered as absent
	return slices.Clone(names), nil
}

// covers reports whether every source b names is known; with add, it marks them known instead.
func (c *NameCache) covers(b *Batch, add map[SourceRef]bool) bool {
	if b == nil {
		return true
	}
	check := func(r SourceRef) bool {
		if r == "" || c.known[r] {
			return true
		}
		if add != nil {
			add[r] = true
			return true
		}
		return false
	}
	for i := range b.Usage {
		if !check(b.Usage[i].Key.Ref()) || !check(b.Usage[i].Scope.Ref()) {
			return false
		}
	}
	for i := range b.Costs {
		if !check(b.Costs[i].Source.Ref()) {
			return false
		}
	}
	return true
}
