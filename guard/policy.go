package guard

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// maxSenders bounds the sender addresses of one message ParticipantPolicy
// examines (party.MaxSenders): a hostile From list of thousands costs no
// more than a real one.
const maxSenders = party.MaxSenders

// ParticipantPolicy is the default [SenderPolicy], for the Chain
// and the token strategy alike. It accepts m when
//
//  1. m is outgoing (Direction Outgoing): the organization's own mail, which
//     a colleague who never wrote on the conversation may send;
//  2. a sender of m — any of its From addresses ("From: a1, a2": each
//     counts), or its Sender — took part in t (is among t.Participants), as
//     osTicket requires for its subject fallback;
//  3. a sender is a colleague of a participant of t: at the same
//     organization, by registrable domain ([party.Organization]: anna@contoso.com
//     and bob@eu.contoso.com), when that organization is neither a freemail
//     provider's (two Gmail users are not colleagues) nor the
//     organization's own — the domain of the mailbox m or t was
//     synchronized from (Message.Mailbox, Tracked.Mailbox, when they are
//     addresses) or of the sender of t when t is outgoing: every
//     conversation has the organization's own people in it, so they would
//     make anyone at the organization a colleague of every customer.
//
// It refuses everyone else: a stranger pasting a token, a colleague of a
// different customer, an incoming message without a sender. Either way its
// Evidence says which sender it judged and how the sender stands ("took
// part: a colleague at contoso.com of participant anna@contoso.com in
// tracked email 7", "did not take part: not a participant of tracked email
// 7, nor a colleague of one (gmail.com is a freemail domain)").
//
// It trusts the From field as written: a spoofed From passes unless the
// caller checks Authentication-Results first (iTop #97). Add the caller's
// address book with AnyOf (party's Resolver.SenderPolicy counts the
// colleagues a directory knows, at any domain).
func ParticipantPolicy(_ context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool) {
	return participantPolicy(nil, m, t)
}

// NewParticipantPolicy returns a [SenderPolicy] that decides as
// [ParticipantPolicy] and remembers the organization of each domain it has
// looked up (at most a few thousand domains; the memory is emptied a part
// at a time when full), sparing a Public Suffix List lookup per sender and
// participant. It is safe for concurrent use. The root package's New gives
// each Guard its own.
func NewParticipantPolicy() SenderPolicy {
	c := new(orgCache)
	return func(_ context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool) {
		return participantPolicy(c, m, t)
	}
}

// participantPolicy is ParticipantPolicy, with the organizations of
// domains read through cache when it is not nil.
func participantPolicy(cache *orgCache, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool) {
	if m == nil {
		return correlate.Evidence{Field: "From", Note: "did not take part: no message"}, false
	}
	senders := sendersOf(m)
	first := ""
	if len(senders) > 0 {
		first = senders[0]
	}
	if m.Direction == correlate.Outgoing {
		return correlate.Evidence{Field: "From", Value: first, Note: "took part: outgoing mail of the organization"}, true
	}
	if len(senders) == 0 {
		return correlate.Evidence{Field: "From", Note: "did not take part: the message names no sender"}, false
	}
	for _, s := range senders {
		if slices.Contains(t.Participants, s) {
			return correlate.Evidence{Field: "From", Value: s, Note: withID("took part: a participant of tracked email ", t.ID, "")}, true
		}
	}
	orgs := orgMemo{cache: cache}
	var ownBuf [3]string // at most three: m's mailbox, t's and t's sender
	own := ownOrganizations(&orgs, m, t, ownBuf[:0])
	why := "" // why the first sender's organization does not count
	for i, s := range senders {
		org, ok := orgs.of(s)
		switch {
		case !ok:
			if i == 0 && org != "" {
				why = " (" + org + " is a freemail domain)"
			}
			continue
		case slices.Contains(own, org):
			if i == 0 {
				why = " (" + org + " is the organization's own domain)"
			}
			continue
		}
		for _, p := range t.Participants {
			if po, ok := orgs.of(p); ok && po == org {
				return correlate.Evidence{Field: "From", Value: s,
					Note: colleagueNote(org, p, t.ID)}, true
			}
		}
	}
	return correlate.Evidence{Field: "From", Value: first,
		Note: withID("did not take part: not a participant of tracked email ", t.ID, ", nor a colleague of one"+why)}, false
}

// colleagueNote returns "took part: a colleague at " + org + " of
// participant " + p + " in tracked email " + id, built with one allocation.
func colleagueNote(org, p string, id int64) string {
	var buf [160]byte
	b := append(buf[:0], "took part: a colleague at "...)
	b = append(append(b, org...), " of participant "...)
	b = append(append(b, p...), " in tracked email "...)
	return string(strconv.AppendInt(b, id, 10))
}

// withID returns prefix, the decimal id and suffix as one string, built
// with one allocation.
func withID(prefix string, id int64, suffix string) string {
	var buf [128]byte
	b := append(buf[:0], prefix...)
	b = strconv.AppendInt(b, id, 10)
	return string(append(b, suffix...))
}

// sendersOf returns the normalized, distinct addresses of m's From and
// Sender fields (correlate.Message.Senders), at most maxSenders.
func sendersOf(m *correlate.Message) []string {
	ss := m.Senders()
	return ss[:min(len(ss), maxSenders)]
}

// orgMemo keeps the party.Organization of the domains one decision asks
// about: the mailbox, the organization's own people and the customer's
// share a few domains, and each answer costs a Public Suffix List lookup.
type orgMemo struct {
	cache *orgCache // when not nil, consulted before party.Organization
	n     int
	dom   [8]string
	org   [8]string
	ok    [8]bool
}

// of returns party.Organization(addr), which depends on the domain of addr
// alone (the text after its last '@').
func (o *orgMemo) of(addr string) (string, bool) {
	d := addr
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		d = addr[at+1:]
	}
	for i := range o.n {
		if o.dom[i] == d {
			return o.org[i], o.ok[i]
		}
	}
	var org string
	var ok bool
	if o.cache != nil {
		org, ok = o.cache.of(addr, d)
	} else {
		org, ok = party.Organization(addr)
	}
	if o.n < len(o.dom) {
		o.dom[o.n], o.org[o.n], o.ok[o.n] = d, org, ok
		o.n++
	}
	return org, ok
}

// ownOrganizations returns the organizations of the mailboxes m and t were
// synchronized from and of t's sender when t is outgoing, appended to own
// (which the caller provides, so that they need no allocation).
func ownOrganizations(orgs *orgMemo, m *correlate.Message, t correlate.Tracked, own []string) []string {
	add := func(addr string) {
		if !strings.Contains(addr, "@") {
			return
		}
		if org, _ := orgs.of(addr); org != "" && !slices.Contains(own, org) {
			own = append(own, org)
		}
	}
	add(m.Mailbox)
	add(t.Mailbox)
	if t.Direction == correlate.Outgoing && len(t.Participants) > 0 {
		add(t.Participants[0])
	}
	return own
}

// AnyOf returns a SenderPolicy that accepts when any of policies accepts,
// consulting them in order: ParticipantPolicy first, then the caller's hook
// ("the sender is a contact of the record's account"), so the hook runs only
// for the senders the participants do not cover. It returns the Evidence of
// the policy that accepted or, when all refuse, the first refusal's with
// the notes of the others appended. nil policies are skipped; with none
// left, every sender is refused.
func AnyOf(policies ...SenderPolicy) SenderPolicy {
	ps := slices.DeleteFunc(slices.Clone(policies), func(p SenderPolicy) bool { return p == nil })
	return func(ctx context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool) {
		var refused correlate.Evidence
		for _, p := range ps {
			ev, ok := p(ctx, m, t)
			if ok {
				return ev, true
			}
			switch {
			case refused == (correlate.Evidence{}):
				refused = ev
			case ev.Note != "":
				refused.Note += "; " + strings.TrimPrefix(ev.Note, "did not take part: ")
			}
		}
		if refused == (correlate.Evidence{}) {
			refused = correlate.Evidence{Field: "From", Note: "did not take part: no sender policy accepts anyone"}
		}
		return refused, false
	}
}
