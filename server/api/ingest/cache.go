package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
)

// receiverTTL is how long a source, as receiving reads it (its verification, secrets, token
// and destinations' filters), is reused without reading it again: at 1,000 requests a second
// to a source that saves as many queries. This process forgets a source at once when it
// changes it (or its destinations, or opens a verification issue at it); a change made
// through another server process reaches this one within receiverTTL.
const receiverTTL = time.Second

// receivers caches store.LoadReceiver's answers.
type receivers struct {
	mu  sync.Mutex
	m   map[uuid.UUID]cachedReceiver
	gen uint64 // bumped by forgetAll: an answer read before it is not kept
}

type cachedReceiver struct {
	r   *store.Receiver
	ok  bool
	at  time.Time
	gen uint64
}

func (c *receivers) load(ctx context.Context, db *store.DB, id uuid.UUID) (*store.Receiver, bool, error) {
	now := time.Now()
	c.mu.Lock()
	e, hit := c.m[id]
	gen := c.gen
	c.mu.Unlock()
	if hit && now.Sub(e.at) < receiverTTL {
		return e.r, e.ok, nil
	}
	r, ok, err := db.LoadReceiver(ctx, id)
	if err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[uuid.UUID]cachedReceiver{}
	}
	if c.gen == gen {
		if len(c.m) > 10000 {
			clear(c.m)
		}
		c.m[id] = cachedReceiver{r: r, ok: ok, at: now, gen: gen}
	}
	c.mu.Unlock()
	return r, ok, nil
}

// forget drops a source.
func (c *receivers) forget(id uuid.UUID) {
	c.mu.Lock()
	delete(c.m, id)
	c.gen++
	c.mu.Unlock()
}

// forgetAll drops every source (a destination changed: it may route any of them).
func (c *receivers) forgetAll() {
	c.mu.Lock()
	clear(c.m)
	c.gen++
	c.mu.Unlock()
}
