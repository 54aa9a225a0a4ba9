package store

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// planCacheTTL is how long a part of a resolution plan read for a create batch is used again by
// later batches of this process. A change made through this store empties the cache at once
// (planCache.changed); one made by another process (or by hand, in SQL) is seen by this
// process's creates within planCacheTTL. Other resolutions (at dispatch, on retry, by hand)
// always read the database.
const planCacheTTL = time.Second

// planCacheMax bounds the entries of each kind; past it, the cache starts again empty.
const planCacheMax = 10000

// planCache keeps, for the create path, what resolving an activity reads of its workspace (target
// configs, attribute keys and policies) and of its commerce (users, roles, contacts, primary
// address, metadata): creates of a campaign (many activities, few workspaces and commerces, in
// batches of milliseconds) then read them once a second, not once a batch. The last contacted
// users change with every dispatch and are never kept.
type planCache struct {
	mu         sync.Mutex
	gen        uint64 // counts changed calls: a plan read before one is not kept
	builtin    []planKey
	workspaces map[uuid.UUID]cachedPart[*workspacePlan]
	commerces  map[uuid.UUID]cachedPart[*planCommerce]
}

type cachedPart[T any] struct {
	v  T
	at time.Time
}

func newPlanCache() *planCache {
	return &planCache{workspaces: map[uuid.UUID]cachedPart[*workspacePlan]{}, commerces: map[uuid.UUID]cachedPart[*planCommerce]{}}
}

// changed forgets everything: every store method that writes what a plan holds calls it, once
// its write is committed.
func (c *planCache) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.workspaces)
	clear(c.commerces)
}

// get puts into p what is kept, still fresh at now, of workspaces and commerces; it returns what
// is not (to read), and the generation to hand back to put with what is read.
func (c *planCache) get(now time.Time, p *resolutionPlan, workspaces, commerces []uuid.UUID) (missingWorkspaces, missingCommerces []uuid.UUID, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p.builtin = c.builtin
	for _, id := range workspaces {
		if e, ok := c.workspaces[id]; ok && now.Sub(e.at) < planCacheTTL {
			p.workspaces[id] = e.v
		} else {
			missingWorkspaces = append(missingWorkspaces, id)
		}
	}
	for _, id := range commerces {
		if e, ok := c.commerces[id]; ok && now.Sub(e.at) < planCacheTTL {
			p.commerces[id] = e.v
		} else {
			missingCommerces = append(missingCommerces, id)
		}
	}
	return missingWorkspaces, missingCommerces, c.gen
}

// put keeps what was read at now, unless something changed since get gave gen.
func (c *planCache) put(now time.Time, gen uint64, read *resolutionPlan) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	// The built-in keys are the migrations': they change only with the binary.
	c.builtin = read.builtin
	if len(c.workspaces)+len(read.workspaces) > planCacheMax {
		clear(c.workspaces)
	}
	if len(c.commerces)+len(read.commerces) > planCacheMax {
		clear(c.commerces)
	}
	for id, w := range read.workspaces {
		c.workspaces[id] = cachedPart[*workspacePlan]{w, now}
	}
	for id, com := range read.commerces {
		c.commerces[id] = cachedPart[*planCommerce]{com, now}
	}
}

// merge adds another plan's parts to p.
func (p *resolutionPlan) merge(o *resolutionPlan) {
	if o.builtin != nil {
		p.builtin = o.builtin
	}
	for id, w := range o.workspaces {
		p.workspaces[id] = w
	}
	for id, c := range o.commerces {
		p.commerces[id] = c
	}
	for k, l := range o.last {
		p.last[k] = l
	}
}
