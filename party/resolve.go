package party

import (
	"context"
	"encoding/json"
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

// Header field names used in Party.Field.
const (
	FieldFrom = "From" // the sender: From, or Sender when From is empty
	FieldTo   = "To"   // a To recipient
	FieldCc   = "Cc"   // a Cc recipient
	FieldBcc  = "Bcc"  // a Bcc recipient
)

// A Party is one address of an email and the records it resolved to.
type Party struct {
	// Field is the header field the address came from: "From", "To", "Cc"
	// or "Bcc".
	Field string `json:"field"`
	// Address is the normalized address; when Err is set, the address as
	// written (clipped to 256 bytes).
	Address string `json:"address"`
	// Name is the display name, for people; it plays no part in
	// resolution.
	Name string `json:"name,omitempty"`
	// Records are the records the address resolved to: at most one for the
	// sender, every matching record for a recipient. Empty when the address
	// is unresolved.
	Records []correlate.Record `json:"records,omitempty"`
	// Accounts are the distinct customer accounts of the records (see
	// [Entry.CustomerAccount]), or, when they have none, of the domain
	// entry for the address's domain.
	Accounts []correlate.Record `json:"accounts,omitempty"`
	// AccountByDomain reports that Accounts come from a domain entry
	// ("@contoso.example"): a person not known by address at a known
	// customer.
	AccountByDomain bool `json:"account_by_domain,omitempty"`
	// Ambiguous reports an address left unresolved because it matched
	// several records and Options.UnresolveAmbiguous is set.
	Ambiguous bool `json:"ambiguous,omitempty"`
	// OwnerRule reports a sender resolved to a record the tracking user
	// owns instead of to the user with the same address (see
	// [Resolver.Resolve]).
	OwnerRule bool `json:"owner_rule,omitempty"`
	// Created reports a record made by the NewContact hook.
	Created bool `json:"created,omitempty"`
	// Matches are every directory entry under the address, active or not,
	// in directory order: what the decision was made from.
	Matches []Entry `json:"-"`
	// Err says why the address could not be normalized; it matches
	// ErrBadAddress. Such an address is unresolved.
	Err error `json:"-"`
}

// Resolved reports whether the party resolved to at least one record.
func (p Party) Resolved() bool { return len(p.Records) > 0 }

// MarshalJSON writes the party's fields and, for a bad address, its error
// text as "error".
func (p Party) MarshalJSON() ([]byte, error) {
	type plain Party
	var e string
	if p.Err != nil {
		e = p.Err.Error()
	}
	return json.Marshal(struct {
		plain
		Error string `json:"error,omitempty"`
	}{plain(p), e})
}

// String describes the party in one line:
//
//	From anna@contoso.example: contact:c-1 (account account:contoso)
//	To new@contoso.example: unresolved, no record (account account:contoso by domain)
func (p Party) String() string {
	var b strings.Builder
	b.WriteString(p.Field)
	b.WriteByte(' ')
	if p.Address == "" {
		b.WriteString("(none)")
	} else {
		b.WriteString(p.Address)
	}
	b.WriteString(": ")
	switch {
	case p.Err != nil:
		b.WriteString(p.Err.Error())
		return b.String()
	case p.Address == "":
		b.WriteString("no address")
		return b.String()
	case p.Resolved():
		writeRecords(&b, p.Records)
		if p.Created {
			b.WriteString(" (created)")
		}
		if p.OwnerRule {
			b.WriteString(" (owned by the tracking user)")
		}
	case p.Ambiguous:
		b.WriteString("unresolved, ambiguous: ")
		writeRecords(&b, activeRecords(p.Matches))
	default:
		b.WriteString("unresolved, ")
		if len(p.Matches) > 0 {
			b.WriteString("only inactive records: ")
			writeRecords(&b, recordsOf(p.Matches))
		} else {
			b.WriteString("no record")
		}
	}
	if len(p.Accounts) > 0 {
		b.WriteString(" (account ")
		writeRecords(&b, p.Accounts)
		if p.AccountByDomain {
			b.WriteString(" by domain")
		}
		b.WriteByte(')')
	}
	return b.String()
}

func writeRecords(b *strings.Builder, rs []correlate.Record) {
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.String())
	}
}

func activeRecords(es []Entry) []correlate.Record {
	var out []correlate.Record
	for _, e := range es {
		if e.Active {
			out = append(out, e.Record)
		}
	}
	return out
}

func recordsOf(es []Entry) []correlate.Record {
	out := make([]correlate.Record, len(es))
	for i, e := range es {
		out[i] = e.Record
	}
	return out
}

// A Resolution is the outcome of resolving one email's participants.
type Resolution struct {
	// From is the sender: the first From address, or Sender when From is
	// empty. Its Field is "From" either way; its Address is "" when the
	// email names no sender.
	From Party `json:"from"`
	// OtherFrom holds the From addresses after the first ("From: a1, a2":
	// RFC 5322 lets an email have several authors), each resolved as the
	// sender is and with Field "From".
	OtherFrom []Party `json:"other_from,omitempty"`
	// To, Cc and Bcc hold one Party per address, in field order.
	To  []Party `json:"to,omitempty"`
	Cc  []Party `json:"cc,omitempty"`
	Bcc []Party `json:"bcc,omitempty"`
	// Unresolved lists the addresses of every party without a record,
	// senders first, each once.
	Unresolved []string `json:"unresolved,omitempty"`
}

// Parties returns the sender (when the email names one) and the other From
// addresses, followed by the recipients in To, Cc, Bcc order.
func (res Resolution) Parties() []Party {
	out := make([]Party, 0, 1+len(res.OtherFrom)+len(res.To)+len(res.Cc)+len(res.Bcc))
	if res.From.Address != "" {
		out = append(out, res.From)
	}
	out = append(out, res.OtherFrom...)
	out = append(out, res.To...)
	out = append(out, res.Cc...)
	return append(out, res.Bcc...)
}

// Records returns the distinct records of every party, sender first.
func (res Resolution) Records() []correlate.Record {
	var out []correlate.Record
	for _, p := range res.Parties() {
		out = appendUnique(out, p.Records...)
	}
	return out
}

// Accounts returns the distinct customer accounts of every party, sender
// first.
func (res Resolution) Accounts() []correlate.Record {
	var out []correlate.Record
	for _, p := range res.Parties() {
		out = appendUnique(out, p.Accounts...)
	}
	return out
}

// String describes every party, one per line.
func (res Resolution) String() string {
	var b strings.Builder
	b.WriteString(res.From.String())
	for _, list := range [...][]Party{res.OtherFrom, res.To, res.Cc, res.Bcc} {
		for _, p := range list {
			b.WriteByte('\n')
			b.WriteString(p.String())
		}
	}
	return b.String()
}

func appendUnique(dst []correlate.Record, rs ...correlate.Record) []correlate.Record {
next:
	for _, r := range rs {
		for _, x := range dst {
			if x == r {
				continue next
			}
		}
		dst = append(dst, r)
	}
	return dst
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
	all := buffer(s.parties[:], n+len(m.From)+1)
	a, first, hasSender := senderOf(m)
	if hasSender {
		all = append(all, c.newParty(FieldFrom, a))
		for i := first + 1; i < len(m.From); i++ {
			if strings.TrimSpace(m.From[i].Address) != "" {
				all = append(all, c.newParty(FieldFrom, m.From[i]))
			}
		}
	}
	senders := len(all) // all[:senders] resolve by the From rules
	for _, f := range [...]struct {
		name string
		list []correlate.Address
	}{{FieldTo, m.To}, {FieldCc, m.Cc}, {FieldBcc, m.Bcc}} {
		for _, a := range f.list {
			all = append(all, c.newParty(f.name, a))
		}
	}
	keys := s.keys[:0]
	for i := range all {
		if all[i].Err == nil {
			keys = append(keys, all[i].Address)
		}
	}
	if err := c.prefetch(keys); err != nil {
		return Resolution{}, err
	}
	keys = keys[:0]
	for i := range all {
		p := &all[i]
		if p.Err != nil {
			continue
		}
		var err error
		if p.Matches, err = c.lookup(p.Address); err != nil {
			return Resolution{}, err
		}
		var cands []Entry // the entries the records (or the ambiguity) come from
		if i < senders {
			cands, err = c.pickSender(p)
		} else {
			cands = c.pickRecipients(p)
		}
		if err != nil {
			return Resolution{}, err
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
	// Domain entries place addresses without an account at a customer.
	if len(keys) > 0 {
		if err := c.prefetch(keys); err != nil {
			return Resolution{}, err
		}
		for i := range all {
			p := &all[i]
			if p.Err != nil || p.Accounts != nil {
				continue
			}
			des, err := c.lookup(domainKey(p.Address))
			if err != nil {
				return Resolution{}, err
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
	}

	if hasSender {
		res.From, all = all[0], all[1:]
		res.OtherFrom, all = cut(all, senders-1)
	}
	res.To, all = cut(all, len(m.To))
	res.Cc, all = cut(all, len(m.Cc))
	res.Bcc = cut1(all)
	var listed map[string]bool // for long lists; short ones are scanned
	if n > cacheScan {
		listed = make(map[string]bool)
	}
	unresolved := func(p *Party) {
		switch {
		case p.Resolved() || p.Address == "":
		case listed == nil:
			res.Unresolved = appendUniqueString(res.Unresolved, p.Address)
		case !listed[p.Address]:
			listed[p.Address] = true
			res.Unresolved = append(res.Unresolved, p.Address)
		}
	}
	unresolved(&res.From)
	for _, list := range [...][]Party{res.OtherFrom, res.To, res.Cc, res.Bcc} {
		for i := range list {
			unresolved(&list[i])
		}
	}
	return res, nil
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

// validEnds reports n non-decreasing ends within [0, max], the last equal
// to max.
func validEnds(ends []int, n, max int) bool {
	if len(ends) != n {
		return false
	}
	prev := 0
	for _, e := range ends {
		if e < prev || e > max {
			return false
		}
		prev = e
	}
	return prev == max
}

// appendUniqueFrom appends r to dst unless dst[start:] holds it already.
func appendUniqueFrom(dst []correlate.Record, start int, r correlate.Record) []correlate.Record {
	for _, x := range dst[start:] {
		if x == r {
			return dst
		}
	}
	return append(dst, r)
}

// pickSender applies the From rules to p.Matches and returns the entries
// the sender resolved to (one), or the tied entries when it is left
// ambiguous.
func (c *resolveCall) pickSender(p *Party) ([]Entry, error) {
	best, bestRank, ties := -1, 0, 0
	for i, e := range p.Matches {
		if !e.Active {
			continue
		}
		switch rk := c.r.rankOf(e.Record.Type); {
		case best < 0 || rk < bestRank:
			best, bestRank, ties = i, rk, 1
		case rk == bestRank:
			ties++
		}
	}
	if best < 0 {
		return nil, nil
	}
	if p.Matches[best].Record.Type == TypeSystemUser && len(p.Matches) > 1 {
		owned, err := c.ownedByTracker(p.Matches)
		if err != nil {
			return nil, err
		}
		if owned >= 0 {
			best, ties = owned, 1
			p.OwnerRule = true
		}
	}
	if ties > 1 && c.r.unresolve {
		p.Ambiguous = true
		out := make([]Entry, 0, ties)
		for _, e := range p.Matches {
			if e.Active && c.r.rankOf(e.Record.Type) == bestRank {
				out = append(out, e)
			}
		}
		return out, nil
	}
	start := len(c.recs)
	c.recs = append(c.recs, p.Matches[best].Record)
	p.Records = c.recs[start : start+1 : start+1]
	return p.Matches[best : best+1 : best+1], nil
}

// ownedByTracker returns the index of the best-ranked active non-user entry
// owned by the tracking user, or -1.
func (c *resolveCall) ownedByTracker(ms []Entry) (int, error) {
	anyOwned := false
	for _, e := range ms {
		if e.Active && !e.Owner.IsZero() && e.Record.Type != TypeSystemUser {
			anyOwned = true
			break
		}
	}
	if !anyOwned {
		return -1, nil
	}
	if c.tracker == nil {
		c.tracker = &correlate.Record{}
		if key, err := c.r.norm.Normalize(c.m.Mailbox); err == nil {
			es, err := c.lookup(key)
			if err != nil {
				return -1, err
			}
			for _, e := range es {
				if e.Active && e.Record.Type == TypeSystemUser {
					*c.tracker = e.Record
					break
				}
			}
		}
	}
	if c.tracker.IsZero() {
		return -1, nil
	}
	best, bestRank := -1, 0
	for i, e := range ms {
		if e.Active && e.Owner == *c.tracker && e.Record.Type != TypeSystemUser {
			if rk := c.r.rankOf(e.Record.Type); best < 0 || rk < bestRank {
				best, bestRank = i, rk
			}
		}
	}
	return best, nil
}

// pickRecipients applies the To/Cc/Bcc rules to p.Matches and returns the
// entries the recipient resolved to, or the entries that made it ambiguous.
func (c *resolveCall) pickRecipients(p *Party) []Entry {
	n := 0
	for _, e := range p.Matches {
		if e.Active || c.r.inactiveRcp {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	cands := p.Matches
	if n != len(p.Matches) {
		cands = make([]Entry, 0, n)
		for _, e := range p.Matches {
			if e.Active || c.r.inactiveRcp {
				cands = append(cands, e)
			}
		}
	}
	if n > 1 {
		// Resolution order, stable: insertion sort on a handful of entries.
		sorted := make([]Entry, len(cands))
		copy(sorted, cands)
		for i := 1; i < len(sorted); i++ {
			for j := i; j > 0 && c.r.rankOf(sorted[j].Record.Type) < c.r.rankOf(sorted[j-1].Record.Type); j-- {
				sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
			}
		}
		cands = sorted
		if c.r.unresolve {
			p.Ambiguous = true
			return cands
		}
	}
	start := len(c.recs)
	for _, e := range cands {
		c.recs = append(c.recs, e.Record)
	}
	p.Records = c.recs[start:len(c.recs):len(c.recs)]
	return cands
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
