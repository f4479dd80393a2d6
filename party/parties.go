// Party and Resolution: the answer of Resolve.

package party

import (
	"encoding/json"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

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

// listUnresolved sets res.Unresolved: the distinct addresses of its parties
// that resolved to no record, in order; n is the number of recipients.
func (res *Resolution) listUnresolved(n int) {
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
}
