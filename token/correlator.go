package token

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// Defaults of [Options].
const (
	DefaultMaxCandidates = 16 // tracked emails examined per token
	DefaultMaxTokens     = 4  // tokens of one subject looked up
)

// DateSkew is how much later than a message's Date a tracked email may be
// dated and still be what its token names (clocks and time zones are
// wrong by hours, not days).
const DateSkew = 48 * time.Hour

// maxSenders bounds the sender addresses of one message that are compared
// with participants: a hostile From list costs no more than a real one.
const maxSenders = 16

// senders returns the normalized, distinct addresses of m's From and Sender
// fields (correlate.Message.Senders), at most maxSenders; none for a nil m.
func senders(m *correlate.Message) []string {
	ss := m.Senders()
	return ss[:min(len(ss), maxSenders)]
}

// Options configures a [Correlator]. A nil *Options is equivalent to the
// zero value, and zero fields mean the documented defaults.
type Options struct {
	// Format describes the tokens; the zero Format is Dynamics' default.
	// With Format.Keys set, only tokens whose signature verifies are
	// accepted and indexed.
	Format Format
	// AcceptUnsigned accepts unsigned tokens although Format.Keys is set,
	// with the confidence of a plain token: for the time after signing is
	// turned on, while replies to unsigned tokens still arrive. It reopens
	// the door to guessed tokens; pair it with a Policy.
	AcceptUnsigned bool
	// Policy, when set, must accept the sender for the tracked email a token
	// names, or the Correlator tries the subject's next token. A token is
	// only a claim: anybody can paste one into a subject (Zammad's open
	// hijack bug #5064). It takes a guard.SenderPolicy, such as
	// guard.ParticipantPolicy (participants, colleagues at the same
	// organization, outgoing mail) or party's Resolver.SenderPolicy(); the
	// refusal is reported, with the policy's Evidence, in the Match's
	// Evidence. Usually the guard around the chain checks the winning token
	// instead (guard.Options.SenderPolicy).
	Policy func(ctx context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool)
	// MaxCandidates bounds the tracked emails examined per token (the
	// newest); 0 means DefaultMaxCandidates.
	MaxCandidates int
	// MaxTokens bounds the tokens of one subject that are looked up, the
	// last ones (the newest stamps) first; 0 means DefaultMaxTokens. It also
	// bounds the keys indexed per email.
	MaxTokens int
	// SubjectChanged, when set, reports whether the subject of a message
	// differs from the subject of the tracked email it correlated with; both
	// are passed with their tokens removed (Format.Strip). It sets
	// Match.SubjectChanged (Dynamics' correlatedsubjectchanged); nil leaves
	// it false. The subject package's comparison is the intended one.
	SubjectChanged func(old, new string) bool
}

// A Correlator correlates an email by the tracking token in its subject
// (method TrackingToken) and, as a [correlate.Indexer], indexes tracked
// emails by their tokens. It is safe for concurrent use.
//
// For each token of the subject, the last first, it checks the signature
// when signing is on, looks the token up, and picks one tracked email. It
// passes over tracked emails dated more than [DateSkew] after the message
// (unless no other carries the token): after a counter roll-over a token
// names another record's newer mail too, and mail synchronized late or
// imported from an archive must not be filed under it. Then it picks:
//
//   - the newest, when every tracked email carrying the token is filed under
//     the same record;
//   - otherwise (the counter rolled over and the token was issued twice) the
//     newest whose participants include a sender (any From address, or
//     Sender), then the newest sharing
//     any participant with the message, then the newest; the Match's
//     Evidence reports the ambiguity and its Confidence drops to High,
//     Likely and Weak respectively.
//
// The Policy, when set, must then accept the sender. The first token that
// passes gives the Match: confidence High for a plain token, Certain for a
// verified signed one. A tracked email filed without a record gives a
// track-only Match (Match.Track). A token that names no tracked email, fails
// its signature or is refused by the Policy is no opinion: the zero Match,
// carrying Evidence that says why. Errors come only from the Lookuper or ctx.
type Correlator struct {
	idx            correlate.Lookuper
	f              Format
	err            error
	acceptUnsigned bool
	policy         func(ctx context.Context, m *correlate.Message, t correlate.Tracked) (correlate.Evidence, bool)
	maxCandidates  int
	maxTokens      int
	subjectChanged func(old, new string) bool
}

var (
	_ correlate.Correlator = (*Correlator)(nil)
	_ correlate.Indexer    = (*Correlator)(nil)
)

// New returns a Correlator looking tokens up in idx. An invalid
// opts.Format is not reported here: every call of Correlate returns the
// error of [Format.Validate] instead (so a misconfigured deployment stops the
// chain rather than misfiling mail), and Index indexes nothing. Check
// Format.Validate first when the configuration comes from outside.
func New(idx correlate.Lookuper, opts *Options) *Correlator {
	var o Options
	if opts != nil {
		o = *opts
	}
	c := &Correlator{
		idx:            idx,
		f:              o.Format,
		acceptUnsigned: o.AcceptUnsigned,
		policy:         o.Policy,
		maxCandidates:  o.MaxCandidates,
		maxTokens:      o.MaxTokens,
		subjectChanged: o.SubjectChanged,
	}
	if c.maxCandidates <= 0 {
		c.maxCandidates = DefaultMaxCandidates
	}
	if c.maxTokens <= 0 {
		c.maxTokens = DefaultMaxTokens
	}
	c.err = o.Format.Validate()
	if c.err == nil && idx == nil {
		c.err = errors.New("token: nil Lookuper")
	}
	return c
}

// String returns the strategy name, "token".
func (c *Correlator) String() string { return "token" }

// Format returns the Format of the tokens c recognizes.
func (c *Correlator) Format() Format { return c.f }

// Correlate returns the record of the tracked email named by a token in
// m.Subject, as the type documentation describes.
func (c *Correlator) Correlate(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	if c.err != nil {
		return correlate.Match{}, c.err
	}
	if err := ctx.Err(); err != nil {
		return correlate.Match{}, fmt.Errorf("token: %w", err)
	}
	if m == nil {
		return correlate.Match{}, nil
	}
	var fbuf [4]Found
	found := c.f.find(fbuf[:0], m.Subject)
	if len(found) == 0 {
		return correlate.Match{}, nil
	}
	var (
		r         tokenRun
		trackOnly correlate.Match
		looked    int
		doneBuf   [4]string
		done      = doneBuf[:0] // digits looked up
	)
	for i := len(found) - 1; i >= 0 && looked < c.maxTokens; i-- {
		fd := &found[i]
		if slices.Contains(done, fd.Digits) {
			continue // looked up already; a copy with a bad signature does not count
		}
		looked++
		raw := m.Subject[fd.Start:fd.End]
		conf, ok := c.verify(&r, fd, raw)
		if !ok {
			continue
		}
		ts, err := c.lookup(ctx, m, *fd)
		if err != nil {
			return correlate.Match{}, err
		}
		done = append(done, fd.Digits)
		pick, conf, ambiguity := choose(m, ts, conf)
		if pick == nil {
			r.note(raw, "no tracked email carries this token")
			r.why("token " + raw + " names no tracked email")
			continue
		}
		if ambiguity != "" {
			r.note(raw, ambiguity)
		}
		if !c.allowed(ctx, &r, m, pick, raw) {
			continue
		}
		mt := c.tokenMatch(&r, m, found, pick, raw, conf)
		if pick.Record.IsZero() {
			if trackOnly.CorrelatedWith == nil {
				mt.Track = true
				mt.Reason += ", tracked without a record"
				trackOnly = mt
			}
			continue
		}
		mt.Evidence = r.ev
		return mt, nil
	}
	if trackOnly.CorrelatedWith != nil {
		trackOnly.Evidence = r.ev
		return trackOnly, nil
	}
	return correlate.Match{Reason: r.reason, Evidence: r.ev}, nil
}

// A tokenRun is the state of one Correlate call: the Evidence so far and
// the reason of the newest token's failure.
type tokenRun struct {
	ev     []correlate.Evidence
	reason string
}

// note adds the Evidence note n about token raw.
func (r *tokenRun) note(raw, n string) {
	if r.ev == nil {
		r.ev = make([]correlate.Evidence, 0, 4) // room for the notes of one token and the policy's
	}
	r.ev = append(r.ev, correlate.Evidence{Field: "Subject", Value: raw, Note: n})
}

// why keeps the reason of the newest token's failure: the first given.
func (r *tokenRun) why(reason string) {
	if r.reason == "" {
		r.reason = reason
	}
}

// verify checks the signature of token fd (raw in the subject) when the
// Format has keys, and returns the confidence of a match through it; ok is
// false when the token does not count (unsigned when signing is required,
// or a bad signature).
func (c *Correlator) verify(r *tokenRun, fd *Found, raw string) (conf float64, ok bool) {
	if len(c.f.Keys) == 0 {
		return correlate.High, true
	}
	switch err := c.f.Verify(fd.Token); {
	case err == nil:
		r.note(raw, "signature verified")
		return correlate.Certain, true
	case errors.Is(err, ErrUnsigned) && c.acceptUnsigned:
		r.note(raw, "unsigned token accepted (AcceptUnsigned)")
		return correlate.High, true
	case errors.Is(err, ErrUnsigned):
		r.note(raw, "unsigned token: signing is required")
		r.why("token " + raw + " is unsigned")
	default:
		r.note(raw, "bad signature")
		r.why("token " + raw + " has a bad signature")
	}
	return 0, false
}

// allowed asks the sender policy, when there is one, whether m may be
// correlated with pick through token raw, and records its Evidence.
func (c *Correlator) allowed(ctx context.Context, r *tokenRun, m *correlate.Message, pick *correlate.Tracked, raw string) bool {
	if c.policy == nil {
		return true
	}
	pev, ok := c.policy(ctx, m, *pick)
	if !ok {
		if pev.Value == "" {
			pev.Value = m.SenderAddress()
		}
		r.ev = append(r.ev, correlate.Evidence{Field: "From", Value: pev.Value,
			Note: "sender policy refused token " + raw + " of tracked email " + strconv.FormatInt(pick.ID, 10) + ": " + pev.Note})
		r.why("sender policy refused token " + raw + ": " + pev.Value + " " + pev.Note)
		return false
	}
	if pev != (correlate.Evidence{}) {
		r.ev = append(r.ev, pev)
	}
	return true
}

// tokenMatch is the Match with pick, named by token raw of m's subject
// (whose tokens are found), without its Evidence; it notes the match in r.
func (c *Correlator) tokenMatch(r *tokenRun, m *correlate.Message, found []Found, pick *correlate.Tracked, raw string, conf float64) correlate.Match {
	// One allocation for the reason and the note, which is its end.
	var nb [96]byte
	b := append(append(append(nb[:0], "token "...), raw...), ' ')
	b = strconv.AppendInt(append(b, "names tracked email "...), pick.ID, 10)
	reason := string(b)
	names := reason[len("token ")+len(raw)+1:]
	r.note(raw, names)
	mt := correlate.Match{
		Record:         pick.Record,
		Method:         correlate.TrackingToken,
		Confidence:     conf,
		Strategy:       c.String(),
		CorrelatedWith: pick,
		Reason:         reason,
	}
	if c.subjectChanged != nil {
		var buf [4]Found
		mt.SubjectChanged = c.subjectChanged(c.f.strip(pick.Subject, c.f.find(buf[:0], pick.Subject)), c.f.strip(m.Subject, found))
	}
	return mt
}

// lookup returns the newest tracked emails carrying fd's token that are not
// dated more than DateSkew after m, or, when there are none, the newest
// whatever their dates.
func (c *Correlator) lookup(ctx context.Context, m *correlate.Message, fd Found) ([]correlate.Tracked, error) {
	q := correlate.Query{Limit: c.maxCandidates}
	if !m.Date.IsZero() {
		q.Until = m.Date.Add(DateSkew)
	}
	ts, err := c.idx.Lookup(ctx, fd.Key(), q)
	if err == nil && len(ts) == 0 && !q.Until.IsZero() {
		q.Until = time.Time{}
		ts, err = c.idx.Lookup(ctx, fd.Key(), q)
	}
	if err != nil {
		return nil, fmt.Errorf("token: lookup %q: %w", fd.Digits, err)
	}
	return ts, nil
}

// choose picks the tracked email a token names among ts (newest first),
// leaving out m itself, and returns it with the confidence left after any
// ambiguity and a note describing the ambiguity ("" when there is none).
func choose(m *correlate.Message, ts []correlate.Tracked, conf float64) (*correlate.Tracked, float64, string) {
	var cbuf [DefaultMaxCandidates]int
	cands := cbuf[:0]
	for i := range ts {
		if m.MessageID != "" && ts[i].MessageID == m.MessageID {
			continue // the message itself, already tracked
		}
		cands = append(cands, i)
	}
	if len(cands) == 0 {
		return nil, 0, ""
	}
	var rbuf [4]correlate.Record
	records := rbuf[:0]
	for _, i := range cands {
		if !slices.Contains(records, ts[i].Record) {
			records = append(records, ts[i].Record)
		}
	}
	if len(records) == 1 {
		return &ts[cands[0]], conf, ""
	}
	shared := strconv.Itoa(len(cands)) + " tracked emails under " + strconv.Itoa(len(records)) +
		" records share this token (counter roll-over?); chose tracked email "
	if ss := senders(m); len(ss) > 0 {
		for _, i := range cands {
			for _, s := range ss {
				if slices.Contains(ts[i].Participants, s) {
					return &ts[i], min(conf, correlate.High), shared + strconv.FormatInt(ts[i].ID, 10) +
						", the newest with a sender among its participants"
				}
			}
		}
	}
	parts := m.Participants()
	for _, i := range cands {
		for _, p := range ts[i].Participants {
			if slices.Contains(parts, p) {
				return &ts[i], min(conf, correlate.Likely), shared + strconv.FormatInt(ts[i].ID, 10) +
					", the newest sharing a participant with the message"
			}
		}
	}
	i := cands[0]
	return &ts[i], min(conf, correlate.Weak), shared + strconv.FormatInt(ts[i].ID, 10) +
		", the newest; none shares a participant with the message"
}

// Index implements [correlate.Indexer]: it appends a KindToken key for
// t.Token and for each distinct token of m.Subject (the last MaxTokens), and sets t.Token,
// when empty, to the last token of the subject in canonical form. With
// signing on, only tokens whose signature verifies are indexed (and unsigned
// ones with AcceptUnsigned): a forged token must not become a key that
// genuine replies would find.
func (c *Correlator) Index(m *correlate.Message, t *correlate.Tracked, dst []correlate.Key) []correlate.Key {
	if c.err != nil || t == nil {
		return dst
	}
	if t.Token != "" {
		if tok, err := c.f.Parse(t.Token); err == nil && c.indexable(tok) {
			dst = appendKey(dst, tok.Key())
		}
	}
	if m == nil {
		return dst
	}
	var fbuf [8]Found
	found := c.f.find(fbuf[:0], m.Subject)
	var last Token
	for i, n := len(found)-1, 0; i >= 0 && n < c.maxTokens; i-- {
		if !c.indexable(found[i].Token) {
			continue
		}
		if last.IsZero() {
			last = found[i].Token
		}
		if k := found[i].Key(); !slices.Contains(dst, k) {
			dst = append(dst, k)
			n++
		}
	}
	if t.Token == "" && !last.IsZero() {
		t.Token = last.String()
	}
	return dst
}

func (c *Correlator) indexable(t Token) bool {
	err := c.f.Verify(t)
	return err == nil || c.acceptUnsigned && errors.Is(err, ErrUnsigned)
}

func appendKey(dst []correlate.Key, k correlate.Key) []correlate.Key {
	if slices.Contains(dst, k) {
		return dst
	}
	return append(dst, k)
}
