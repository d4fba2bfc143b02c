package peer

import (
	"container/list"
	"sync"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// blockCache keeps blocks fetched for reads, least recently used out first,
// within a byte bound. Its blocks are verified (they are content.Blocks).
type blockCache struct {
	mu    sync.Mutex
	limit int64
	bytes int64
	order *list.List // of content.Block, most recent at the front
	index map[cid.Cid]*list.Element
}

func newBlockCache(limit int64) *blockCache {
	return &blockCache{limit: limit, order: list.New(), index: map[cid.Cid]*list.Element{}}
}

func (c *blockCache) get(k cid.Cid) (content.Block, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.index[k]
	if !ok {
		return content.Block{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(content.Block), true
}

func (c *blockCache) put(b content.Block) {
	if int64(b.Size()) > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.index[b.CID()]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.index[b.CID()] = c.order.PushFront(b)
	c.bytes += int64(b.Size())
	for c.bytes > c.limit {
		e := c.order.Back()
		old := c.order.Remove(e).(content.Block)
		delete(c.index, old.CID())
		c.bytes -= int64(old.Size())
	}
}

func (c *blockCache) stat() (blocks int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index), c.bytes
}
