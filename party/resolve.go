package party

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// DefaultOrder returns the order in which Dynamics 365 resolves the From
// address when several records use it: the first active record wins in the
// order SystemUser, Contact, Account, Lead, Equipment, Team, Business unit,
// then any other email-enabled type (queues, custom tables) in directory
// order. The slice is new on every call.
func DefaultOrder() []string {
	return []string{TypeSystemUser, TypeContact, TypeAccount, TypeLead, TypeEquipment, TypeTeam, TypeBusinessUnit}
}

// Options configures a [Resolver]. A nil *Options, like the zero value,
// gives Dynamics' behavior.
type Options struct {
	// Order is the From resolution order of record types; nil means
	// [DefaultOrder]. Types not listed rank after every listed type, in
	// the order the Directory returns them.
	Order []string
	// UnresolveAmbiguous leaves an address unresolved when it matches more
	// than one record (Party.Ambiguous reports it): for To, Cc and Bcc any
	// two matching records, for From two records of the type that ranks
	// first, which the order cannot separate. This is Dynamics' setting "Set
	// To, cc, bcc fields as unresolved values if multiple matches are found
	// in incoming emails". By default a recipient resolves to every
	// matching record and a sender to the first one the directory returns.
	UnresolveAmbiguous bool
	// IncludeInactiveRecipients resolves To, Cc and Bcc addresses to
	// inactive records too. By default only active records count, for
	// recipients as for the sender.
	IncludeInactiveRecipients bool
	// IgnoreAccounts keeps [Resolver.TookPart] from counting a sender at
	// the same customer account as a participant; only the same address or
	// the same record then counts.
	IgnoreAccounts bool
	// Normalizer sets the address rules. nil means the Directory's own
	// (when it has a method Normalizer() *Normalizer, as [MemDirectory]
	// does), else the default rules.
	Normalizer *Normalizer
	// NewContact is called by [Resolver.CreateSender] for a sender that
	// resolved to no record. It may create a record in the CRM (a contact,
	// or a lead) and return it, or return the zero Record to decline; the
	// library never invents records. It must be safe for concurrent use,
	// and should be idempotent per address: two emails from one new sender
	// may be processed at the same time.
	NewContact func(ctx context.Context, m *correlate.Message, sender Party) (correlate.Record, error)
}

// A Resolver links the participants of an email to the records of a
// [Directory], as Dynamics 365 fills an email's From, To, Cc and Bcc
// activity parties. It is safe for concurrent use when its Directory and
// NewContact hook are.
type Resolver struct {
	dir         Directory
	norm        *Normalizer
	rank        map[string]int
	nRank       int
	unresolve   bool
	inactiveRcp bool
	noAccounts  bool
	newContact  func(ctx context.Context, m *correlate.Message, sender Party) (correlate.Record, error)
}

// NewResolver returns a Resolver that looks addresses up in dir.
func NewResolver(dir Directory, opts *Options) *Resolver {
	var o Options
	if opts != nil {
		o = *opts
	}
	r := &Resolver{dir: dir, norm: o.Normalizer, unresolve: o.UnresolveAmbiguous,
		inactiveRcp: o.IncludeInactiveRecipients, noAccounts: o.IgnoreAccounts, newContact: o.NewContact}
	if r.norm == nil {
		if nd, ok := dir.(interface{ Normalizer() *Normalizer }); ok {
			r.norm = nd.Normalizer()
		}
		if r.norm == nil {
			r.norm = &Normalizer{}
		}
	}
	order := o.Order
	if order == nil {
		order = DefaultOrder()
	}
	r.rank = make(map[string]int, len(order))
	for i, t := range order {
		if _, dup := r.rank[t]; !dup {
			r.rank[t] = i
		}
	}
	r.nRank = len(order)
	return r
}

// Normalizer returns the address rules the Resolver uses.
func (r *Resolver) Normalizer() *Normalizer { return r.norm }

func (r *Resolver) rankOf(typ string) int {
	if i, ok := r.rank[typ]; ok {
		return i
	}
	return r.nRank
}

// resolveCall holds the state of one Resolve: shared backing arrays (so a
// message costs a handful of allocations, not several per address) and a
// cache of the addresses already looked up.
type resolveCall struct {
	r       *Resolver
	ctx     context.Context
	m       *correlate.Message
	free    []Entry // empty; its capacity is where the next lookup's entries go
	recs    []correlate.Record
	cache   []cached
	ends    []int
	todo    []string
	index   map[string]int    // key → position in cache, once the cache is long
	tracker *correlate.Record // the tracking user, once looked up
}

// cacheScan is the cache length up to which a linear scan beats a map.
const cacheScan = 16

// cached returns the entries of key if the call looked it up already.
func (c *resolveCall) cached(key string) ([]Entry, bool) {
	if c.index != nil {
		i, ok := c.index[key]
		if !ok {
			return nil, false
		}
		return c.cache[i].matches, true
	}
	for _, x := range c.cache {
		if x.key == key {
			return x.matches, true
		}
	}
	return nil, false
}

// remember adds a looked-up key to the cache.
func (c *resolveCall) remember(key string, ms []Entry) {
	c.cache = append(c.cache, cached{key, ms})
	if c.index == nil && len(c.cache) > cacheScan {
		c.index = make(map[string]int, 2*len(c.cache))
		for i, x := range c.cache {
			c.index[x.key] = i
		}
	} else if c.index != nil {
		c.index[key] = len(c.cache) - 1
	}
}

type cached struct {
	key     string
	matches []Entry
}

// scratch holds the buffers of one Resolve in one allocation, enough for a
// message of up to four addresses (most mail); longer ones grow out of it.
// The Resolution points into it.
type scratch struct {
	parties [4]Party
	entries [6]Entry
	recs    [8]correlate.Record
	cache   [8]cached
	keys    [4]string
	todo    [4]string
	ends    [4]int
}

// buffer returns arr[:0] when it has room for n elements, else a new slice.
func buffer[T any](arr []T, n int) []T {
	if n <= len(arr) {
		return arr[:0]
	}
	return make([]T, 0, n)
}

// Resolve links the participants of m to records.
//
// The sender resolves as Dynamics resolves the From field: to the first
// active record in the resolution order (see [DefaultOrder]); inactive
// records are skipped. Every other From address (Resolution.OtherFrom)
// resolves by the same rule: none is dropped. One exception, from Microsoft's draft documentation:
// when the sender is a user and also uses the address of an active record
// that the tracking user owns (Entry.Owner), it resolves to that record.
// The tracking user is the user whose address is m.Mailbox.
//
// Each To, Cc and Bcc address resolves to every matching active record, in
// resolution order. Addresses that cannot be normalized are unresolved,
// with Party.Err saying why; they are never an error. Resolve returns an
// error only when the directory fails or ctx is done.
func (r *Resolver) Resolve(ctx context.Context, m *correlate.Message) (Resolution, error) {
	var res Resolution
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("party: resolve: %w", err)
	}
	res.From.Field = FieldFrom
	if m == nil {
		return res, nil
	}
	s := new(scratch)
	c := resolveCall{r: r, ctx: ctx, m: m, cache: s.cache[:0], ends: s.ends[:0], todo: s.todo[:0]}
	n := len(m.To) + len(m.Cc) + len(m.Bcc)
	c.free = buffer(s.entries[:], n+len(m.From)+3)
	c.recs = buffer(s.recs[:], 2*(n+len(m.From)+1))

	// Normalize every address, then look them all up at once, then decide.
	all, senders, hasSender := c.parties(s, m, n)
	keys, err := c.resolveParties(all, senders, s.keys[:0])
	if err != nil {
		return Resolution{}, err
	}
	if err := c.placeByDomain(all, keys); err != nil {
		return Resolution{}, err
	}
	if hasSender {
		res.From, all = all[0], all[1:]
		res.OtherFrom, all = cut(all, senders-1)
	}
	res.To, all = cut(all, len(m.To))
	res.Cc, all = cut(all, len(m.Cc))
	res.Bcc = cut1(all)
	res.listUnresolved(n)
	return res, nil
}

// parties normalizes every address of m (n recipients) into a Party not
// yet resolved: the sender and the other From addresses first (all[:senders],
// which resolve by the From rules), then To, Cc and Bcc in order.
func (c *resolveCall) parties(s *scratch, m *correlate.Message, n int) (all []Party, senders int, hasSender bool) {
	all = buffer(s.parties[:], n+len(m.From)+1)
	a, first, hasSender := senderOf(m)
	if hasSender {
		all = append(all, c.newParty(FieldFrom, a))
		for i := first + 1; i < len(m.From); i++ {
			if strings.TrimSpace(m.From[i].Address) != "" {
				all = append(all, c.newParty(FieldFrom, m.From[i]))
			}
		}
	}
	senders = len(all)
	for _, f := range [...]struct {
		name string
		list []correlate.Address
	}{{FieldTo, m.To}, {FieldCc, m.Cc}, {FieldBcc, m.Bcc}} {
		for _, a := range f.list {
			all = append(all, c.newParty(f.name, a))
		}
	}
	return all, senders, hasSender
}

// resolveParties looks up every normalized address of all at once and picks
// its records, by the From rules for all[:senders] and the recipient rules
// for the rest, with the customer accounts of the entries they come from.
// It returns, appended to keys, the domain keys of the addresses left
// without an account.
func (c *resolveCall) resolveParties(all []Party, senders int, keys []string) ([]string, error) {
	for i := range all {
		if all[i].Err == nil {
			keys = append(keys, all[i].Address)
		}
	}
	if err := c.prefetch(keys); err != nil {
		return nil, err
	}
	keys = keys[:0]
	for i := range all {
		p := &all[i]
		if p.Err != nil {
			continue
		}
		var err error
		if p.Matches, err = c.lookup(p.Address); err != nil {
			return nil, err
		}
		var cands []Entry // the entries the records (or the ambiguity) come from
		if i < senders {
			cands, err = c.pickSender(p)
		} else {
			cands = c.pickRecipients(p)
		}
		if err != nil {
			return nil, err
		}
		start := len(c.recs)
		for _, e := range cands {
			if acc := e.CustomerAccount(); !acc.IsZero() {
				c.recs = appendUniqueFrom(c.recs, start, acc)
			}
		}
		if len(c.recs) > start {
			p.Accounts = c.recs[start:len(c.recs):len(c.recs)]
		} else {
			keys = append(keys, domainKey(p.Address))
		}
	}
	return keys, nil
}

// placeByDomain places the addresses of all without an account at a
// customer through the domain entries of keys (their domain keys).
func (c *resolveCall) placeByDomain(all []Party, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	if err := c.prefetch(keys); err != nil {
		return err
	}
	for i := range all {
		p := &all[i]
		if p.Err != nil || p.Accounts != nil {
			continue
		}
		des, err := c.lookup(domainKey(p.Address))
		if err != nil {
			return err
		}
		start := len(c.recs)
		for _, e := range des {
			if acc := e.CustomerAccount(); e.Active && !acc.IsZero() {
				c.recs = appendUniqueFrom(c.recs, start, acc)
			}
		}
		if len(c.recs) > start {
			p.Accounts = c.recs[start:len(c.recs):len(c.recs)]
			p.AccountByDomain = true
		}
	}
	return nil
}

// domainKey returns the domain entry key of a normalized address.
func domainKey(addr string) string { return addr[strings.LastIndexByte(addr, '@'):] }

// newParty normalizes one address into a Party not yet resolved.
func (c *resolveCall) newParty(field string, a correlate.Address) Party {
	p := Party{Field: field, Name: a.Name}
	key, err := c.r.norm.Normalize(a.Address)
	if err != nil {
		p.Address = clip(strings.TrimSpace(a.Address), 256)
		p.Err = err
		return p
	}
	p.Address = key
	return p
}

// prefetch looks up the keys not yet in the call's cache, all at once when
// the directory is a BatchDirectory.
func (c *resolveCall) prefetch(keys []string) error {
	todo := c.todo[:0]
	var seen map[string]bool // for long lists; short ones are scanned
	if len(keys) > cacheScan {
		seen = make(map[string]bool, len(keys))
	}
next:
	for _, k := range keys {
		if _, ok := c.cached(k); ok {
			continue
		}
		if seen != nil {
			if seen[k] {
				continue
			}
			seen[k] = true
		} else {
			for _, x := range todo {
				if x == k {
					continue next
				}
			}
		}
		todo = append(todo, k)
	}
	bd, ok := c.r.dir.(BatchDirectory)
	if len(todo) < 2 || !ok {
		for _, k := range todo {
			if _, err := c.lookup(k); err != nil {
				return err
			}
		}
		return nil
	}
	got, ends, err := bd.LookupBatch(c.ctx, todo, c.free, c.ends[:0])
	if err != nil {
		return fmt.Errorf("party: lookup %q and %d more: %w", todo[0], len(todo)-1, err)
	}
	if !validEnds(ends, len(todo), len(got)) {
		// A BatchDirectory that broke its contract: ask key by key.
		for _, k := range todo {
			if _, err := c.lookup(k); err != nil {
				return err
			}
		}
		return nil
	}
	prev := 0
	for i, k := range todo {
		end := ends[i]
		ms := got[prev:end:end]
		if len(ms) == 0 {
			ms = nil
		}
		c.remember(k, ms)
		prev = end
	}
	c.free = got[len(got):]
	return nil
}

func cut(ps []Party, n int) ([]Party, []Party) {
	if n == 0 {
		return nil, ps
	}
	return ps[:n:n], ps[n:]
}

func cut1(ps []Party) []Party {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

func appendUniqueString(dst []string, s string) []string {
	if s == "" {
		return dst
	}
	for _, x := range dst {
		if x == s {
			return dst
		}
	}
	return append(dst, s)
}

// senderOf returns the first From address with an address and its index
// in m.From, else Sender (index len(m.From)).
func senderOf(m *correlate.Message) (correlate.Address, int, bool) {
	for i, a := range m.From {
		if strings.TrimSpace(a.Address) != "" {
			return a, i, true
		}
	}
	if strings.TrimSpace(m.Sender.Address) != "" {
		return m.Sender, len(m.From), true
	}
	return correlate.Address{}, len(m.From), false
}

// lookup returns the entries under key, from the call's cache when the
// address was seen before.
//
// Directories append to c.free, an empty slice over the unused end of the
// call's buffer: what comes back holds only this key's entries, wherever
// the directory put them, and the result is capped so appending to it
// never overwrites another party's entries.
func (c *resolveCall) lookup(key string) ([]Entry, error) {
	if ms, ok := c.cached(key); ok {
		return ms, nil
	}
	got, err := c.r.dir.Lookup(c.ctx, key, c.free)
	if err != nil {
		return nil, fmt.Errorf("party: lookup %q: %w", key, err)
	}
	ms := got[:len(got):len(got)]
	if len(ms) == 0 {
		ms = nil
	}
	c.free = got[len(got):]
	c.remember(key, ms)
	return ms, nil
}

// CreateSender offers every sender of m that resolved to no record — the
// sender (res.From) and each other From address (res.OtherFrom), in order —
// to the NewContact hook, and for each record it returns files it on the
// party (Party.Created) and removes the address from res.Unresolved. Call
// it after the incoming-email filter accepted the email: Dynamics creates
// records only for email it tracks, and a contact made before filtering
// would turn [FromCRMRecords] into "from anyone".
//
// A party is skipped when it is resolved or ambiguous, or its address is
// bad or absent; the hook may decline one by returning the zero Record.
// CreateSender reports whether it created a record for any of them. It
// stops at the first error of the hook and returns it wrapped; the records
// created before it stay filed in res.
func (r *Resolver) CreateSender(ctx context.Context, m *correlate.Message, res *Resolution) (bool, error) {
	if r.newContact == nil {
		return false, nil
	}
	created := false
	for i := -1; i < len(res.OtherFrom); i++ {
		p := &res.From
		if i >= 0 {
			p = &res.OtherFrom[i]
		}
		if p.Address == "" || p.Err != nil || p.Resolved() || p.Ambiguous {
			continue
		}
		if err := ctx.Err(); err != nil {
			return created, fmt.Errorf("party: create sender: %w", err)
		}
		rec, err := r.newContact(ctx, m, *p)
		if err != nil {
			return created, fmt.Errorf("party: create sender %q: %w", p.Address, err)
		}
		if rec.IsZero() {
			continue
		}
		p.Records = []correlate.Record{rec}
		p.Created = true
		created = true
		res.Unresolved = removeString(res.Unresolved, p.Address)
	}
	return created, nil
}

// removeString returns list without s, in a new slice; nil when nothing is
// left.
func removeString(list []string, s string) []string {
	out := list[:0:0]
	for _, a := range list {
		if a != s {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
