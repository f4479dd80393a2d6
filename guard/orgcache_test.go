package guard

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/party"
)

// TestOrgCache checks that the memory answers as party.Organization, stays
// within its bound however many domains it meets, and is safe for
// concurrent use (run with -race).
func TestOrgCache(t *testing.T) {
	var c orgCache
	addrs := []string{
		"anna@mail.contoso.co.uk", // registrable part under a two-label suffix
		"bob@gmail.com",           // freemail: ok false, org set
		"carl@co.uk",              // a bare public suffix: no organization
		"dora@[192.0.2.1]",        // an IP literal
		"eve@localhost",           // one label
		"fay@eu.fabrikam.example", // the default rule reads an unknown TLD
	}
	for pass := range 2 {
		for _, a := range addrs {
			wantOrg, wantOK := party.Organization(a)
			org, ok := c.of(a, a[strings.LastIndexByte(a, '@')+1:])
			if org != wantOrg || ok != wantOK {
				t.Errorf("pass %d: of(%q) = %q, %v; want %q, %v", pass, a, org, ok, wantOrg, wantOK)
			}
		}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 3 * orgCacheShards * orgCacheShardSize {
				d := "d" + strconv.Itoa(w) + "-" + strconv.Itoa(i) + ".example"
				if org, ok := c.of("x@"+d, d); org != d || !ok {
					t.Errorf("of(%q) = %q, %v; want itself, true", d, org, ok)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range c.shards {
		if n := len(c.shards[i].m); n > orgCacheShardSize {
			t.Errorf("shard %d holds %d domains, more than its bound %d", i, n, orgCacheShardSize)
		}
	}
}
