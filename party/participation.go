package party

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// How a sender took part in a conversation; see [Participation].
const (
	ByAddress   = "address"   // the sender's address is a participant
	ByRecord    = "record"    // the sender and a participant are one record
	ByAccount   = "account"   // the sender and a participant are at one customer account
	ByRegarding = "regarding" // the sender, or its account, is the record the email is filed under
)

// A Participation says whether the sender of an email took part in the
// conversation of a tracked email, and how. Strategies that accept a claim
// (a tracking token, a Message-ID) use it as their sender policy.
type Participation struct {
	// TookPart reports that the sender took part.
	TookPart bool `json:"took_part"`
	// By is how: ByAddress, ByRecord, ByAccount or ByRegarding; "" when
	// the sender did not take part.
	By string `json:"by,omitempty"`
	// Sender is the sender's normalized address (as written when it is
	// bad).
	Sender string `json:"sender"`
	// Participant is the participant of the tracked email that matched;
	// "" for ByRegarding and when none did.
	Participant string `json:"participant,omitempty"`
	// Via is the record (ByRecord, ByRegarding) or account (ByAccount) the
	// sender shares.
	Via correlate.Record `json:"via,omitzero"`
	// Reason is a one-line explanation for people.
	Reason string `json:"reason"`
}

// Evidence returns the participation as Evidence for a Match:
//
//	{Field: "From", Value: "bob@contoso.example", Note: "took part: same account account:contoso as participant anna@contoso.example"}
func (p Participation) Evidence() correlate.Evidence {
	note := "took part: " + p.Reason
	if !p.TookPart {
		note = "did not take part: " + p.Reason
	}
	return correlate.Evidence{Field: "From", Value: p.Sender, Note: note}
}

// belongs is what the directory says about one address: its active records
// and their customer accounts (or its domain's).
type belongs struct {
	records  []correlate.Record
	accounts []correlate.Record
	byDomain bool
}

// belongsOf looks up a normalized address.
func (r *Resolver) belongsOf(ctx context.Context, key string, buf []Entry) (belongs, []Entry, error) {
	var b belongs
	es, err := r.dir.Lookup(ctx, key, buf[:0])
	if err != nil {
		return b, es, fmt.Errorf("party: lookup %q: %w", key, err)
	}
	for _, e := range es {
		if !e.Active {
			continue
		}
		b.records = appendUnique(b.records, e.Record)
		if acc := e.CustomerAccount(); !acc.IsZero() {
			b.accounts = appendUnique(b.accounts, acc)
		}
	}
	if len(b.accounts) == 0 {
		dom := key[strings.LastIndexByte(key, '@')+1:]
		es, err = r.dir.Lookup(ctx, "@"+dom, es[:0])
		if err != nil {
			return b, es, fmt.Errorf("party: lookup %q: %w", "@"+dom, err)
		}
		for _, e := range es {
			if acc := e.CustomerAccount(); e.Active && !acc.IsZero() {
				b.accounts = appendUnique(b.accounts, acc)
			}
		}
		b.byDomain = len(b.accounts) > 0
	}
	return b, es, nil
}

func shared(a, b []correlate.Record) (correlate.Record, bool) {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return x, true
			}
		}
	}
	return correlate.Record{}, false
}

// MaxSenders bounds the sender addresses of one email that TookPart
// examines: its From addresses, then Sender. Real mail has one or two; the
// bound keeps a hostile list of thousands from costing a directory lookup
// each.
const MaxSenders = 16

// TookPart reports whether a sender of m — any of its From addresses
// ("From: a1, a2" has two authors, and each counts), or its Sender —
// took part in the conversation of the tracked email t, checking in this
// order, each for every sender before the next:
//
//  1. ByAddress: the sender's address is one of t.Participants (both
//     normalized by the Resolver's rules, so with StripTags
//     "anna+crm@contoso.example" is "anna@contoso.example").
//  2. ByRegarding: the sender resolves to t.Record, or belongs to the
//     account t.Record.
//  3. ByRecord: the sender and a participant resolve to the same active
//     record (one contact writing from a second address).
//  4. ByAccount: the sender and a participant belong to the same customer
//     account, by their records' accounts or by a domain entry — a new
//     colleague at the same customer. Options.IgnoreAccounts turns this
//     off.
//
// Participation.Sender is the sender that took part, or the first one when
// none did. An email whose senders all have bad addresses, or that names
// none, did not take part. At most MaxSenders senders are examined.
// TookPart returns an error only when the directory fails or ctx is done;
// it looks up at most two keys per sender and per participant.
func (r *Resolver) TookPart(ctx context.Context, m *correlate.Message, t correlate.Tracked) (Participation, error) {
	var p Participation
	if err := ctx.Err(); err != nil {
		return p, fmt.Errorf("party: took part: %w", err)
	}
	if m == nil {
		p.Reason = "no message"
		return p, nil
	}
	senders, bad := r.senders(m)
	if len(senders) == 0 {
		if bad.err != nil {
			p.Sender = clip(strings.TrimSpace(bad.addr), 256)
			p.Reason = bad.err.Error()
			return p, nil
		}
		p.Reason = "the email names no sender"
		return p, nil
	}
	p.Sender = senders[0]
	keys := make([]string, 0, len(t.Participants))
	for _, x := range t.Participants {
		k, err := r.norm.Normalize(x)
		if err != nil {
			continue
		}
		for _, key := range senders {
			if k == key {
				p.TookPart, p.By, p.Sender, p.Participant = true, ByAddress, key, k
				p.Reason = "a participant of tracked email " + fmt.Sprint(t.ID)
				return p, nil
			}
		}
		keys = append(keys, k)
	}
	buf := make([]Entry, 0, 8)
	sbs := make([]belongs, len(senders))
	known := false // a sender resolves to a record or an account
	for i, key := range senders {
		sb, b, err := r.belongsOf(ctx, key, buf)
		buf = b
		if err != nil {
			return p, err
		}
		sbs[i] = sb
		known = known || len(sb.records) > 0 || (!r.noAccounts && len(sb.accounts) > 0)
		if !t.Record.IsZero() && (containsRecord(sb.records, t.Record) || (!r.noAccounts && containsRecord(sb.accounts, t.Record))) {
			p.TookPart, p.By, p.Sender, p.Via = true, ByRegarding, key, t.Record
			p.Reason = "the sender is, or belongs to, " + t.Record.String() + ", the record tracked email " + fmt.Sprint(t.ID) + " is filed under"
			return p, nil
		}
	}
	if !known {
		p.Reason = "not a participant of tracked email " + fmt.Sprint(t.ID) + ", and resolves to no record or account"
		return p, nil
	}
	var acct Participation
	for _, k := range keys {
		pb, b, err := r.belongsOf(ctx, k, buf)
		buf = b
		if err != nil {
			return p, err
		}
		for i, sb := range sbs {
			if rec, ok := shared(sb.records, pb.records); ok {
				p.TookPart, p.By, p.Sender, p.Participant, p.Via = true, ByRecord, senders[i], k, rec
				p.Reason = "same record " + rec.String() + " as participant " + k
				return p, nil
			}
			if !r.noAccounts && !acct.TookPart {
				if acc, ok := shared(sb.accounts, pb.accounts); ok {
					acct = Participation{TookPart: true, By: ByAccount, Sender: senders[i], Participant: k, Via: acc,
						Reason: "same account " + acc.String() + " as participant " + k}
					if sb.byDomain || pb.byDomain {
						acct.Reason += " (by domain)"
					}
				}
			}
		}
	}
	if acct.TookPart {
		return acct, nil
	}
	p.Reason = "not a participant of tracked email " + fmt.Sprint(t.ID) + ", and shares no record or account with one"
	return p, nil
}

// badSender is a sender address that could not be normalized.
type badSender struct {
	addr string
	err  error
}

// senders returns the normalized, distinct sender addresses of m: its From
// addresses, then Sender, at most MaxSenders; and the first bad one.
func (r *Resolver) senders(m *correlate.Message) ([]string, badSender) {
	var bad badSender
	out := make([]string, 0, len(m.From)+1)
	add := func(a correlate.Address) {
		if strings.TrimSpace(a.Address) == "" || len(out) >= MaxSenders {
			return
		}
		k, err := r.norm.Normalize(a.Address)
		if err != nil {
			if bad.err == nil {
				bad = badSender{a.Address, err}
			}
			return
		}
		for _, x := range out {
			if x == k {
				return
			}
		}
		out = append(out, k)
	}
	for _, a := range m.From {
		add(a)
	}
	add(m.Sender)
	return out, bad
}

// SenderPolicy returns TookPart as a guard.SenderPolicy, for the guard
// (guard.Options.SenderPolicy, alone or after guard.ParticipantPolicy in
// guard.AnyOf) and the token strategy (token.Options.Policy) alike: it
// accepts when a sender of m took part in the conversation of t, with the
// Participation's Evidence ("took part: same account account:contoso as
// participant anna@contoso.example"). A directory failure refuses, with
// the error in the Evidence: a claim is not accepted on evidence that could
// not be checked.
func (r *Resolver) SenderPolicy() func(ctx context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool) {
	return func(ctx context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool) {
		p, err := r.TookPart(ctx, m, t)
		if err != nil {
			return correlate.Evidence{Field: "From", Value: p.Sender, Note: "did not take part: the directory could not tell: " + err.Error()}, false
		}
		return p.Evidence(), p.TookPart
	}
}

// An AccountMatch is a customer account shared by two groups of addresses:
// evidence for smart matching that two emails concern the same customer.
type AccountMatch struct {
	// Account is the shared account; zero when there is none.
	Account correlate.Record `json:"account,omitzero"`
	// A and B are one address of each group at that account.
	A string `json:"a,omitempty"`
	B string `json:"b,omitempty"`
	// ByDomain reports that A or B is at the account only through a domain
	// entry.
	ByDomain bool `json:"by_domain,omitempty"`
}

// Found reports whether an account is shared.
func (am AccountMatch) Found() bool { return !am.Account.IsZero() }

// Evidence returns the match as Evidence:
//
//	{Field: "account", Value: "account:contoso", Note: "anna@contoso.example and bob@contoso.example"}
func (am AccountMatch) Evidence() correlate.Evidence {
	if !am.Found() {
		return correlate.Evidence{Field: "account", Note: "no shared customer account"}
	}
	note := am.A + " and " + am.B
	if am.ByDomain {
		note += " (by domain)"
	}
	return correlate.Evidence{Field: "account", Value: am.Account.String(), Note: note}
}

// SameAccount returns the first customer account that an address of a and
// an address of b belong to (by their active records' accounts, or by a
// domain entry), scanning a in order. Addresses are normalized by the
// Resolver's rules; bad ones are skipped. Typical use: a is a message's
// participants, b a candidate tracked email's Participants. It returns an
// error only when the directory fails or ctx is done; it looks up at most
// two keys per address.
func (r *Resolver) SameAccount(ctx context.Context, a, b []string) (AccountMatch, error) {
	if err := ctx.Err(); err != nil {
		return AccountMatch{}, fmt.Errorf("party: same account: %w", err)
	}
	type acc struct {
		addr     string
		accounts []correlate.Record
		byDomain bool
	}
	var buf []Entry
	side := func(list []string) ([]acc, error) {
		out := make([]acc, 0, len(list))
		for _, x := range list {
			k, err := r.norm.Normalize(x)
			if err != nil {
				continue
			}
			bl, bb, err := r.belongsOf(ctx, k, buf)
			buf = bb
			if err != nil {
				return nil, err
			}
			if len(bl.accounts) > 0 {
				out = append(out, acc{k, bl.accounts, bl.byDomain})
			}
		}
		return out, nil
	}
	as, err := side(a)
	if err != nil || len(as) == 0 {
		return AccountMatch{}, err
	}
	bs, err := side(b)
	if err != nil {
		return AccountMatch{}, err
	}
	for _, x := range as {
		for _, y := range bs {
			if rec, ok := shared(x.accounts, y.accounts); ok {
				return AccountMatch{Account: rec, A: x.addr, B: y.addr, ByDomain: x.byDomain || y.byDomain}, nil
			}
		}
	}
	return AccountMatch{}, nil
}
