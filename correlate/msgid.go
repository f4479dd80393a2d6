package correlate

import (
	"errors"
	"strings"
)

// DefaultMaxReferences is how many References ids ParseMessage keeps when
// ParseOptions.MaxReferences is zero: the newest 32, as Odoo does ("performance
// degrades with 100+ references").
const DefaultMaxReferences = 32

// maxIDLen bounds one Message-ID. RFC 5322 sets no limit, but Dynamics stores
// messageid in 320 characters and nothing legitimate comes close to this.
const maxIDLen = 998

// ErrNoMessageID reports a Message-ID field with no id in it.
var ErrNoMessageID = errors.New("correlate: no message id in field")

// ParseMessageIDs reads the ids of a Message-ID, In-Reply-To or References
// field leniently, the way real mail needs:
//
//   - ids written without separating space ("<a@x><b@y>") or across folded
//     lines ("<a@\r\n x>") are read as written, with the white space removed;
//   - text between ids ("Your message of Monday <a@x>", comments, stray
//     addresses) is ignored when the field has at least one bracketed id;
//   - a field with no angle brackets at all yields its words that contain an
//     '@' (some mailers drop the brackets);
//   - duplicates are dropped (the first occurrence stays), ids longer than 998
//     bytes are dropped;
//   - when max > 0 only the last max ids are kept (the newest, for References).
//
// Ids are returned normalized by [NormalizeMessageID]. The error is non-nil
// when the field held something that is not an id (it lists what was
// dropped); the ids read are returned alongside it. ParseMessageIDs never
// panics and runs in time linear in len(s).
func ParseMessageIDs(s string, max int) ([]string, error) {
	ids, problems := appendMessageIDs(nil, s, max)
	if len(problems) > 0 {
		return ids, &idListError{Problems: problems}
	}
	return ids, nil
}

// appendMessageIDs is ParseMessageIDs appending the ids to dst, which they
// are deduplicated and bounded in, and returning the problems.
func appendMessageIDs(dst []string, s string, max int) (ids, problems []string) {
	start0 := len(dst)
	ids = dst
	add := func(raw string) {
		id := normalizeID(raw)
		switch {
		case id == "":
			problems = append(problems, "empty id <>")
			return
		case len(id) > maxIDLen:
			problems = append(problems, "id longer than 998 bytes")
			return
		}
		ids = append(ids, id)
	}
	bracketed := false
	for i := 0; i < len(s); {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			break
		}
		start := i + lt + 1
		gt := strings.IndexByte(s[start:], '>')
		inner := -1 // a '<' before the '>': "<junk <id>"
		if gt >= 0 {
			inner = strings.IndexByte(s[start:start+gt], '<')
		} else {
			inner = strings.IndexByte(s[start:], '<')
		}
		if inner >= 0 { // restart at the inner bracket
			i = start + inner
			continue
		}
		if gt < 0 {
			problems = append(problems, "unterminated <")
			break
		}
		bracketed = true
		add(s[start : start+gt])
		i = start + gt + 1
	}
	if !bracketed {
		for _, w := range strings.FieldsFunc(s, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == ','
		}) {
			w = strings.Trim(w, "<>()\"';")
			if strings.Contains(w, "@") {
				add(w)
			}
		}
		if len(ids) == start0 && strings.TrimSpace(s) != "" {
			problems = append(problems, "no message id found")
		}
	}
	ids = append(ids[:start0], dedupe(ids[start0:])...)
	if n := len(ids) - start0; max > 0 && n > max {
		ids = append(ids[:start0], ids[len(ids)-max:]...)
	}
	return ids, problems
}

// An idListError describes what [ParseMessageIDs] dropped from a field;
// errors.Is(err, ErrNoMessageID) tells a field without any id.
type idListError struct {
	Problems []string
}

func (e *idListError) Error() string {
	return "correlate: message id list: " + strings.Join(e.Problems, "; ")
}

// Unwrap returns [ErrNoMessageID] when the field held no id at all.
func (e *idListError) Unwrap() error {
	for _, p := range e.Problems {
		if p == "no message id found" {
			return ErrNoMessageID
		}
	}
	return nil
}

// dedupe removes repeated strings in place, keeping first occurrences, in
// time linear in len(ids).
func dedupe(ids []string) []string {
	if len(ids) < 2 {
		return ids
	}
	out := ids[:0]
	if len(ids) <= 16 {
	next:
		for _, id := range ids {
			for _, x := range out {
				if x == id {
					continue next
				}
			}
			out = append(out, id)
		}
		return out
	}
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; ok {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}
