// Picking the records of a sender and of a recipient among the entries of its address.

package party

import (
	"github.com/mailcorrelate/mailcorrelate/correlate"
)

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
