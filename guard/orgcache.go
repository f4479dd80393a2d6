package guard

import (
	"strings"
	"sync"

	"github.com/mailcorrelate/mailcorrelate/party"
)

// orgCacheShards and orgCacheShardSize bound an orgCache: at most
// orgCacheShards × orgCacheShardSize domains (4,096) are remembered.
const (
	orgCacheShards    = 16
	orgCacheShardSize = 256
)

// An orgCache remembers party.Organization by domain for one policy: an
// organization's mail comes from a few thousand domains at most, and each
// answer costs a Public Suffix List lookup (which allocates an error for
// every name that is not an IP address). It is safe for concurrent use.
// A shard that is full is emptied before it takes a new domain, so the
// memory stays bounded whatever the mail names.
type orgCache struct {
	shards [orgCacheShards]orgShard
}

type orgShard struct {
	mu sync.RWMutex
	m  map[string]orgAnswer
}

type orgAnswer struct {
	org string
	ok  bool
}

// of returns party.Organization of an address whose domain is dom (the
// text after its last '@').
func (c *orgCache) of(addr, dom string) (string, bool) {
	s := &c.shards[shardOf(dom)]
	s.mu.RLock()
	a, hit := s.m[dom]
	s.mu.RUnlock()
	if hit {
		return a.org, a.ok
	}
	org, ok := party.Organization(addr)
	// Clone the strings kept: dom and org may point into a large header.
	a = orgAnswer{org: strings.Clone(org), ok: ok}
	s.mu.Lock()
	if s.m == nil || len(s.m) >= orgCacheShardSize {
		s.m = make(map[string]orgAnswer, orgCacheShardSize)
	}
	s.m[strings.Clone(dom)] = a
	s.mu.Unlock()
	return a.org, a.ok
}

// shardOf hashes dom (FNV-1a) to a shard.
func shardOf(dom string) int {
	h := uint32(2166136261)
	for i := 0; i < len(dom); i++ {
		h ^= uint32(dom[i])
		h *= 16777619
	}
	return int(h % orgCacheShards)
}
