package correlate

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DateTolerance is how far apart the Date of a message and the Time of a
// tracked email may be for [SameEmail] to read them as the same Date: the
// Date field has a resolution of one second.
const DateTolerance = time.Second

// SameEmail reports whether m is the email t tracks — the same email met
// again: synchronized twice, a copy from a second mailbox, a provider's
// copy that kept the original Message-ID — rather than another email that
// reuses t's Message-ID (a collision: Message-IDs travel in every reply's
// References, and anybody can write one into a message of their own).
// When they differ, it returns one Evidence per disagreement; when they
// agree, none.
//
// Copies of one email agree on three things, each compared only when both
// sides have it:
//
//   - the sender: the first address of m's participants (the first From
//     address, else Sender, else the first recipient) and t.Participants[0],
//     which the Engine fills in the same order ([Message.Participants]);
//   - the Date: m.Date and t.Time within DateTolerance. An absent Date says
//     nothing, and neither does a t.Time later than m.Date: a tracked email
//     whose own copy had no Date carries the time it was tracked, which
//     comes after the email was written. A t.Time earlier than m.Date is a
//     disagreement: no copy of an email is dated after the email itself;
//   - the subject: sameSubject(t.Subject, m.Subject), which should compare
//     base subjects (a mailing list's copy adds a [tag]; subject.SameKey
//     does); nil compares the subjects ignoring case and runs of white
//     space.
//
// A message that copies the sender, the subject and the Date of the email
// it collides with is indistinguishable from a copy and is treated as one:
// it then names the record of the email it imitates, as that email would.
//
// SameEmail is the one test of "same email?" in this module: the Engine's
// Track uses it to keep a colliding message from being taken for the email
// it collides with, and the InReplyTo strategy (package header) to tell a
// duplicate from a hijack.
func SameEmail(m *Message, t *Tracked, sameSubject func(a, b string) bool) (bool, []Evidence) {
	if m == nil || t == nil {
		return false, nil
	}
	var ev []Evidence
	if s := firstParticipant(m); s != "" && len(t.Participants) > 0 && t.Participants[0] != "" && s != t.Participants[0] {
		ev = append(ev, Evidence{Field: "From", Value: s, Note: "the tracked email's sender is " + t.Participants[0]})
	}
	if !m.Date.IsZero() && !t.Time.IsZero() && t.Time.Before(m.Date.Add(-DateTolerance)) {
		ev = append(ev, Evidence{Field: "Date", Value: m.Date.UTC().Format(time.RFC3339),
			Note: "the tracked email is dated earlier, " + t.Time.UTC().Format(time.RFC3339)})
	}
	same := sameSubject
	if same == nil {
		same = equalSubjects
	}
	if !same(t.Subject, m.Subject) {
		ev = append(ev, Evidence{Field: "Subject", Value: clipValue(m.Subject), Note: "the tracked email's subject is " + clipValue(t.Subject)})
	}
	return len(ev) == 0, ev
}

// firstParticipant returns Participants()[0], or "" when there is none.
func firstParticipant(m *Message) string {
	if ps := m.Participants(); len(ps) > 0 {
		return ps[0]
	}
	return ""
}

// equalSubjects reports whether a and b are equal ignoring case (simple
// Unicode folding) and runs of white space, leading and trailing included.
func equalSubjects(a, b string) bool {
	if a == b {
		return true
	}
	for {
		a, b = strings.TrimLeftFunc(a, unicode.IsSpace), strings.TrimLeftFunc(b, unicode.IsSpace)
		if a == "" || b == "" {
			return a == b
		}
		ia := strings.IndexFunc(a, unicode.IsSpace)
		if ia < 0 {
			ia = len(a)
		}
		ib := strings.IndexFunc(b, unicode.IsSpace)
		if ib < 0 {
			ib = len(b)
		}
		if !strings.EqualFold(a[:ia], b[:ib]) {
			return false
		}
		a, b = a[ia:], b[ib:]
	}
}

// clipValue shortens s to at most 200 bytes on a rune boundary, for
// Evidence.
func clipValue(s string) string {
	const n = 200
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
