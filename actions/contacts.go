package actions

import (
	"context"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
)

// A Candidate is an address of an email that the directory does not
// resolve: a person the CRM could create a contact for.
type Candidate struct {
	// Field is the header field the address is in: "From", "To" or "Cc";
	// "" for a tracked email read back from the store, which keeps its
	// participants without their fields (TrackedContacts).
	Field string `json:"field,omitempty"`
	// Address is the normalized address.
	Address string `json:"address"`
	// Name is the display name; "" when the email gave none or it was read
	// back from the store.
	Name string `json:"name,omitempty"`
	// Accounts are the customer accounts the address's domain belongs to
	// (a domain entry of the directory): the account a new contact would
	// belong to.
	Accounts []correlate.Record `json:"accounts,omitempty"`
	// Record is the record CreateContacts made for the address; zero
	// before, or when the creator declined.
	Record correlate.Record `json:"record,omitzero"`
	// Created reports that CreateContacts made Record.
	Created bool `json:"created,omitempty"`
}

// Contacts returns the contact candidates of m: every From, To and Cc
// address that the directory does not resolve to an active record, in that
// order, each once. The organization's own addresses (Options.OwnAddresses
// and m.Mailbox), addresses that cannot be normalized, and addresses left
// unresolved because several records use them (ambiguous: they are known)
// are left out. Without a directory the error wraps ErrNoDirectory.
//
// Every From address is considered, not only the first: a "From: a1, a2"
// email offers both.
func (a *Actions) Contacts(ctx context.Context, m *correlate.Message) ([]Candidate, error) {
	if a.res == nil {
		return nil, fmt.Errorf("actions: contacts: %w", ErrNoDirectory)
	}
	if m == nil {
		return nil, nil
	}
	res, err := a.res.Resolve(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("actions: contacts: %w", err)
	}
	own := a.own(m.Mailbox)
	var out []Candidate
	add := func(p party.Party) {
		if p.Err != nil || p.Address == "" || p.Resolved() || p.Ambiguous || own(p.Address) {
			return
		}
		for _, c := range out {
			if c.Address == p.Address {
				return
			}
		}
		c := Candidate{Field: p.Field, Address: p.Address, Name: p.Name}
		if p.AccountByDomain {
			c.Accounts = p.Accounts
		}
		out = append(out, c)
	}
	add(res.From)
	// The resolver resolves the first From address as the sender; the
	// others are resolved one by one, each as the sender of a message of
	// its own, so the same rules decide.
	first := true // the first From address with an address is res.From
	for _, f := range m.From {
		if strings.TrimSpace(f.Address) == "" {
			continue
		}
		if first {
			first = false
			continue
		}
		one, err := a.res.Resolve(ctx, &correlate.Message{From: []correlate.Address{f}, Mailbox: m.Mailbox})
		if err != nil {
			return nil, fmt.Errorf("actions: contacts: %w", err)
		}
		add(one.From)
	}
	for _, p := range res.To {
		add(p)
	}
	for _, p := range res.Cc {
		add(p)
	}
	return out, nil
}

// own returns the test for the organization's own addresses, mailbox
// included.
func (a *Actions) own(mailbox string) func(addr string) bool {
	mb := ""
	if mailbox != "" {
		mb, _ = a.normalizer().Normalize(mailbox)
	}
	return func(addr string) bool {
		if addr == mb || a.ownAddrs[addr] {
			return true
		}
		for _, d := range a.ownDomains {
			if strings.HasSuffix(addr, d) {
				return true
			}
		}
		return false
	}
}

// MessageOf returns a Message holding what the store keeps of a tracked
// email: its id, subject, date, mailbox, folder, direction and conversation
// index, its first participant as From (a tracked email's participants
// start with its sender) and the others as To. The store keeps no display
// names, no Cc or Bcc fields and no body.
func MessageOf(t correlate.Tracked) *correlate.Message {
	m := &correlate.Message{MessageID: t.MessageID, Subject: t.Subject, Date: t.Time, Mailbox: t.Mailbox,
		FolderID: t.FolderID, FolderPath: t.FolderPath, Direction: t.Direction, ThreadIndex: t.ConversationIndex}
	for i, p := range t.Participants {
		if i == 0 {
			m.From = []correlate.Address{{Address: p}}
			continue
		}
		m.To = append(m.To, correlate.Address{Address: p})
	}
	return m
}

// TrackedContacts returns the contact candidates of the tracked email with
// the given Message-ID, read back from the store (see MessageOf): its
// sender has Field "From", its other participants — To, Cc and Bcc alike,
// the store keeps no fields — Field "", and none has a Name. An untracked
// email is an error wrapping correlate.ErrNotFound.
func (a *Actions) TrackedContacts(ctx context.Context, messageID string) (correlate.Tracked, []Candidate, error) {
	t, err := a.Lookup(ctx, messageID)
	if err != nil {
		return correlate.Tracked{}, nil, err
	}
	cs, err := a.Contacts(ctx, MessageOf(t))
	for i := range cs {
		if cs[i].Field != party.FieldFrom {
			cs[i].Field = ""
		}
	}
	return t, cs, err
}

// CreateContacts has Options.NewContact create a record for each chosen
// address of m, on behalf of actor, and returns the chosen candidates with
// the records made (Candidate.Record, Created; a declined one has neither).
//
// Every chosen address must be a candidate of m (see Contacts), or nothing
// is created and the error wraps ErrNotCandidate; an address chosen twice
// is created once. A chosen Name, when not empty, replaces the email's
// display name (a person may correct it). The hook gets the party as the
// email names it. When the hook fails, the candidates created before are
// returned with the error.
func (a *Actions) CreateContacts(ctx context.Context, m *correlate.Message, chosen []Candidate) ([]Candidate, error) {
	cands, err := a.Contacts(ctx, m)
	if err != nil {
		return nil, err
	}
	return a.createContacts(ctx, m, cands, chosen)
}

// CreateTrackedContacts is CreateContacts for the tracked email with the
// given Message-ID, read back from the store (see TrackedContacts); the
// hook gets the Message MessageOf rebuilds.
func (a *Actions) CreateTrackedContacts(ctx context.Context, messageID string, chosen []Candidate) ([]Candidate, error) {
	t, cands, err := a.TrackedContacts(ctx, messageID)
	if err != nil {
		return nil, err
	}
	return a.createContacts(ctx, MessageOf(t), cands, chosen)
}

func (a *Actions) createContacts(ctx context.Context, m *correlate.Message, cands, chosen []Candidate) ([]Candidate, error) {
	if a.newContact == nil {
		return nil, fmt.Errorf("actions: create contacts: no NewContact hook: %w", ErrNoDirectory)
	}
	var todo []Candidate
next:
	for _, ch := range chosen {
		addr, err := a.normalizer().Normalize(ch.Address)
		if err != nil {
			return nil, fmt.Errorf("actions: create contacts: %w: %w", ErrNotCandidate, err)
		}
		for _, t := range todo {
			if t.Address == addr {
				continue next
			}
		}
		for _, c := range cands {
			if c.Address == addr {
				if n := strings.TrimSpace(ch.Name); n != "" {
					c.Name = n
				}
				todo = append(todo, c)
				continue next
			}
		}
		return nil, fmt.Errorf("actions: create contacts: %w: %q is not on the email, already known, or the organization's own", ErrNotCandidate, addr)
	}
	out := make([]Candidate, 0, len(todo))
	for _, c := range todo {
		field := c.Field
		if field == "" {
			field = party.FieldTo
		}
		rec, err := a.newContact(ctx, m, party.Party{Field: field, Address: c.Address, Name: c.Name, Accounts: c.Accounts, AccountByDomain: len(c.Accounts) > 0})
		if err != nil {
			return out, fmt.Errorf("actions: create contact %q: %w", c.Address, err)
		}
		if !rec.IsZero() {
			c.Record, c.Created = rec, true
		}
		out = append(out, c)
	}
	return out, nil
}
