package smartmatch

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// A whyNot says why a candidate does not qualify; the zero value means it
// does. The text is written only for the candidate the Match names.
type whyNot int8

const (
	whyDiffers     whyNot = iota + 1 // base subject below MinSimilarity
	whyNoneShared                    // nothing shared, own addresses known
	whyAgain                         // fresh, from the tracked email's author
	whySimilarOnly                   // similar subject without a shared address
	whyScore                         // below MinScore
)

// whyText says why ic does not qualify, "" when it does.
func (c *Correlator) whyText(ic *icand) string {
	switch ic.why {
	case whyDiffers:
		return "base subject differs"
	case whyNoneShared:
		return "no participant shared besides own addresses"
	case whyAgain:
		return "its author sends the same subject again without a reply prefix: a new message"
	case whySimilarOnly:
		return "base subject only similar, and shares only " + ic.level.String() + " " + ic.via
	case whyScore:
		if ic.level == levelNone {
			return "no participant shared, and the base subject is not specific enough to match alone (" + c.explain(ic) + ")"
		}
		return "shares only " + ic.level.String() + " " + ic.via + ", and the base subject is not specific enough (" + c.explain(ic) + ")"
	}
	return ""
}

// explain spells the score of ic out: "score 21.4 bits = address 16.0 +
// subject 9.5 - fresh 4.0 - age 0.1 (MinScore 8.0)".
func (c *Correlator) explain(ic *icand) string {
	var buf [128]byte
	b := append(buf[:0], "score "...)
	b = appendBits(b, ic.score)
	b = append(b, " bits = "...)
	b = append(b, ic.level.String()...)
	b = append(b, ' ')
	b = appendBits(b, c.tune.bits(ic.level))
	if !math.IsNaN(ic.subjBits) {
		b = append(b, " + subject "...)
		if ic.subjPartial {
			b = append(b, "≥ "...)
		}
		b = appendBits(b, ic.subjBits)
	}
	if ic.fresh {
		b = append(b, " - fresh "...)
		b = appendBits(b, c.tune.freshBits)
	}
	if ic.ageBits >= 0.05 {
		b = append(b, " - age "...)
		b = appendBits(b, ic.ageBits)
	}
	b = append(b, " (MinScore "...)
	b = appendBits(b, c.tune.minScore)
	b = append(b, ')')
	return string(b)
}

// decide picks the winner among the examined candidates: among the
// qualifying ones, equal base subjects before similar ones, candidates with
// a record before those without, closer participants before others, then
// similarity × recency; an abstention when another record's candidate is as
// plausible (same tier, participants as close).
func (c *Correlator) decide(f form, cands []icand, ev []correlate.Evidence) correlate.Match {
	bi, exact := pickBest(cands)
	if bi < 0 {
		return c.noMatch(cands, ev)
	}
	best := &cands[bi]
	if rival := c.rival(cands, best, exact); rival != nil {
		return c.ambiguous(f.text, best, rival, ev)
	}
	conf := c.confidence(f.reply, best)
	var reason strings.Builder
	reason.Grow(96)
	ev = slices.Grow(ev, 3)
	ev = c.because(&reason, f.text, best, ev)
	if ru := c.runnerUp(cands, best); ru != nil {
		why := c.whyText(ru)
		switch {
		case why != "":
		case ru.t.Record.IsZero():
			why = "tracked without a record"
		case ru.level < best.level:
			why = "shares only " + ru.level.String() + " " + ru.via
		default:
			why = "its base subject is only similar (" + fmtScore(ru.sim) + ")"
		}
		ev = append(ev, correlate.Evidence{Field: "runner-up", Value: ru.t.Record.String(), Note: describe(ru.t) + ": " + why})
	}
	mt := correlate.Match{
		Record:         best.t.Record,
		Method:         correlate.SmartMatching,
		Confidence:     conf,
		Strategy:       c.String(),
		CorrelatedWith: best.t,
		SubjectChanged: best.sim < 1 || best.was,
		Reason:         reason.String(),
		Evidence:       ev,
	}
	if best.t.Record.IsZero() {
		mt.Track = true
		mt.Reason += ", tracked without a record"
	}
	if conf < c.minC {
		return belowThreshold(mt, c.minC)
	}
	return mt
}

// better orders candidates: closer participants first, then higher
// similarity × recency, then newer.
func better(a, b *icand) int {
	switch {
	case a.level != b.level:
		return int(b.level) - int(a.level)
	case a.rank > b.rank:
		return -1
	case a.rank < b.rank:
		return 1
	case newer(a.t, b.t):
		return -1
	case newer(b.t, a.t):
		return 1
	}
	return 0
}

// pickBest returns the index of the best qualifying candidate (-1 when none
// qualifies), in the tiers decide describes, and whether that is the tier
// of equal base subjects.
func pickBest(cands []icand) (bi int, exact bool) {
	recorded := false
	for i := range cands {
		if ic := &cands[i]; ic.why == 0 {
			exact = exact || ic.sim == 1
			recorded = recorded || !ic.t.Record.IsZero()
		}
	}
	bi = -1
	for i := range cands {
		ic := &cands[i]
		if ic.why == 0 && (!exact || ic.sim == 1) && (!recorded || !ic.t.Record.IsZero()) &&
			(bi < 0 || better(ic, &cands[bi]) < 0) {
			bi = i
		}
	}
	return bi, exact
}

// rival is the guard against generic subjects: another record's tracked
// email with the same (or, in the similar tier, a similar) base subject
// whose participants are as close to the message's; nil when there is
// none.
func (c *Correlator) rival(cands []icand, best *icand, exact bool) *icand {
	var rival *icand
	for i := range cands {
		r := &cands[i]
		if r.t.Record == best.t.Record || r.t.Record.IsZero() || r.again || r.level == levelNone ||
			r.sim < c.minSim || exact && r.sim < 1 {
			continue
		}
		if rival == nil || better(r, rival) < 0 {
			rival = r
		}
	}
	return rival
}

// ambiguous is the abstention of decide when rival is as plausible as
// best; text is the message's comparison text.
func (c *Correlator) ambiguous(text string, best, rival *icand, ev []correlate.Evidence) correlate.Match {
	ev = append(ev,
		correlate.Evidence{Field: "Subject", Value: text, Note: "ambiguous: tracked under two records, participants as close (" + best.level.String() + ")"},
		correlate.Evidence{Field: "candidate", Value: best.t.Record.String(), Note: describe(best.t) + ", shares " + best.level.String() + " " + best.via},
		correlate.Evidence{Field: "runner-up", Value: rival.t.Record.String(), Note: describe(rival.t) + ", shares " + rival.level.String() + " " + rival.via},
	)
	return correlate.Match{
		Strategy: c.String(),
		Reason: "ambiguous: " + describe(best.t) + " and " + describe(rival.t) + " both match (sharing " + best.level.String() + " and " +
			rival.level.String() + "); not guessing",
		Evidence: ev,
	}
}

// confidence returns the confidence of a match with best: Likely ×
// similarity × recency, lowered for an organization or a hub and for a
// message without a reply prefix (not reply), and at least Weak.
func (c *Correlator) confidence(reply bool, best *icand) float64 {
	conf := correlate.Likely * best.rank
	switch best.level {
	case levelOrg:
		conf *= orgFactor
	case levelHub:
		conf *= hubFactor
	}
	if !reply {
		conf *= freshFactor
	}
	return max(conf, correlate.Weak)
}

// because writes the Reason of a match with best to reason and appends the
// Evidence of its subject (comparison text text) and its participants to
// ev.
func (c *Correlator) because(reason *strings.Builder, text string, best *icand, ev []correlate.Evidence) []correlate.Evidence {
	id := strconv.FormatInt(best.t.ID, 10)
	subj := correlate.Evidence{Field: "Subject", Value: text}
	switch {
	case best.was:
		subj.Note = "its \"(was: …)\" trailer names the base subject of tracked email " + id
		reason.WriteString("the subject it continues (was: …) is the base subject of tracked email ")
	case best.sim < 1:
		subj.Note = "similar (" + fmtScore(best.sim) + ") to the base subject of tracked email " + id
		reason.WriteString("base subject similar (")
		reason.WriteString(fmtScore(best.sim))
		reason.WriteString(") to tracked email ")
	default:
		subj.Note = "same base subject as tracked email " + id
		reason.WriteString("same base subject as tracked email ")
	}
	reason.WriteString(id)
	part := correlate.Evidence{Field: "Participants", Value: best.via}
	switch best.level {
	case levelAddress:
		reason.WriteString(", sharing ")
		reason.WriteString(best.via)
		part.Note = "shared with tracked email " + id + " (address)"
	case levelOrg:
		reason.WriteString(", sharing the organization ")
		reason.WriteString(best.via)
		part.Note = "organization shared with tracked email " + id
	case levelHub:
		reason.WriteString(", sharing only the hub ")
		reason.WriteString(best.via)
		part.Note = "only a hub shared with tracked email " + id
	default:
		reason.WriteString(", sharing no participant: the base subject carries it alone")
		part.Note = "nothing shared with tracked email " + id
	}
	part.Note += "; " + c.explain(best)
	return append(ev, subj, part)
}

// runnerUp returns the closest candidate of another record than best's,
// nil when there is none.
func (c *Correlator) runnerUp(cands []icand, best *icand) *icand {
	var ru *icand
	for i := range cands {
		r := &cands[i]
		if r.t.Record == best.t.Record || r.sim < c.minSim && r.level == levelNone {
			continue
		}
		if ru == nil || r.sim > ru.sim || r.sim == ru.sim && r.rank > ru.rank {
			ru = r
		}
	}
	return ru
}

// noMatch explains why no candidate qualified: the closest and why it lost.
func (c *Correlator) noMatch(cands []icand, ev []correlate.Evidence) correlate.Match {
	if len(cands) == 0 {
		if len(ev) == 0 {
			return correlate.Match{}
		}
		return correlate.Match{Strategy: c.String(), Reason: "no tracked email with a similar base subject", Evidence: ev}
	}
	slices.SortFunc(cands, func(a, b icand) int {
		if a.sim != b.sim {
			if a.sim > b.sim {
				return -1
			}
			return 1
		}
		return better(&a, &b)
	})
	r := cands[0]
	if r.sim < c.minSim {
		// Nothing alike: no opinion, but say which addresses were hubs.
		if len(ev) == 0 {
			return correlate.Match{}
		}
		return correlate.Match{Strategy: c.String(), Reason: "no tracked email with a similar base subject", Evidence: ev}
	}
	why := c.whyText(&r)
	ev = append(ev, correlate.Evidence{Field: "runner-up", Value: r.t.Record.String(), Note: describe(r.t) + ": " + why})
	return correlate.Match{Strategy: c.String(), Reason: "no tracked email qualifies; closest: " + describe(r.t) + ", " + why, Evidence: ev}
}

func fmtScore(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }

// appendBits appends x with one decimal.
func appendBits(b []byte, x float64) []byte {
	if math.Abs(x) < 0.05 {
		x = 0 // no "-0.0"
	}
	return strconv.AppendFloat(b, x, 'f', 1, 64)
}
