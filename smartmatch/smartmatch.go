package smartmatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// Key kinds of the index entries this package adds to tracked emails.
const (
	// KindWord is a subject-word hash of Dynamics mode: the FNV-1a 32-bit
	// hash of the lower-cased word, as 8 lower-case hex digits (Dynamics keeps
	// 32-bit integers in EmailHashBase.Hash).
	KindWord = "sm.w"
	// KindAddress is a participant address, normalized by
	// correlate.NormalizeAddress, in both modes. The value is the address
	// itself, so the keys one mode indexed serve the other.
	KindAddress = "sm.a"
	// KindSubject is the base-subject signature of Improved mode: the base
	// subject without tracking tokens, folded (subject.Fold), every run of
	// characters other than letters, digits and marks replaced by one space
	// ("printer on floor 3 offline"); or, when that is longer than 128 bytes,
	// "#" and the 16 hex digits of its FNV-1a 64-bit hash.
	KindSubject = "sm.s"
	// KindTerm is a word of Improved mode's comparison text that is not a
	// stop word, as text ("printer"), or, when longer than 40 bytes, "#" and
	// the 16 hex digits of its FNV-1a 64-bit hash, on the tracked emails
	// that start a conversation (those not correlated with another). Its
	// counts are the document frequencies, among conversations, of the
	// subject's specificity.
	KindTerm = "sm.t"
	// KindConversation (value "") is on every tracked email that starts a
	// conversation: its count is the number of conversations.
	KindConversation = "sm.c"
)

// Defaults of [Options].
const (
	DefaultHashMaxCount        = 20                   // Dynamics: words and addresses hashed
	DefaultHashMinAddressCount = 2                    // Dynamics: shared addresses required
	DefaultWindow              = 90 * 24 * time.Hour  // Dynamics: how far back candidates go
	DefaultImprovedWindow      = 365 * 24 * time.Hour // Improved: how far back candidates go (age is in the score)
	DefaultMaxCandidates       = 32                   // tracked emails examined per message and step
	DefaultMinConfidence       = correlate.Weak       // weaker matches are abstentions
	DefaultMinSimilarity       = 0.9                  // Improved: base-subject similarity
	DefaultHubShare            = 0.1                  // Improved: share of tracked emails that makes a hub
	DefaultHubMinCount         = 50                   // Improved: fewest tracked emails of a hub
	DefaultHubRefresh          = time.Minute          // Improved: age of the cached total of tracked emails
	DefaultHalfLife            = 180 * 24 * time.Hour // Improved: recency weighting
	DefaultMaxAddresses        = 10                   // Improved: addresses indexed and looked up per email
	DefaultMaxTerms            = 6                    // Improved: subject words indexed and counted per email
)

// maxSubjectBytes bounds the subject text either mode reads; real subjects
// are far shorter.
const maxSubjectBytes = subject.DefaultMaxLen

// A Mode selects the matching rules.
type Mode int

const (
	// Improved is the default mode (the zero value): one score of the
	// subject's specificity (word frequencies among the tracked emails),
	// the participants shared (the same person, organization or hub), the
	// reply prefix and the age; edited subjects compared with a normalized
	// Levenshtein similarity; a guard against generic subjects; a
	// confidence. See the package documentation.
	Improved Mode = iota
	// Dynamics is Dynamics 365's smart matching: subject-word and address
	// hashes, HashFilterKeywords, HashMaxCount, HashDeltaSubjectCount,
	// HashMinAddressCount and the 90-day window; the newest match wins.
	Dynamics
)

// String returns "Improved" or "Dynamics".
func (m Mode) String() string {
	switch m {
	case Improved:
		return "Improved"
	case Dynamics:
		return "Dynamics"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// An Index finds tracked emails by key and counts them. Every
// [correlate.Store] is one.
type Index interface {
	// Lookup returns the tracked emails under k within q's window, newest
	// first, at most q's limit.
	correlate.Lookuper
	// Count returns the number of tracked emails under k.
	Count(ctx context.Context, k correlate.Key) (int, error)
	// Stats reports the number of tracked emails (Improved mode's hub
	// detection; read at most once per Options.HubRefresh).
	Stats(ctx context.Context) (correlate.Stats, error)
}

// Options configures a [Correlator]. A nil *Options is equivalent to the
// zero value, and zero fields mean the documented defaults.
type Options struct {
	// Mode selects the rules; the zero value is Improved.
	Mode Mode

	// Window bounds how far back, before the message's Date (or now when it
	// has none), tracked emails are candidates. 0 means DefaultWindow (90
	// days, Dynamics' window) in Dynamics mode and DefaultImprovedWindow (a
	// year) in Improved mode, whose score weighs age; a negative Window
	// means no bound.
	Window time.Duration
	// MaxCandidates bounds the tracked emails examined per message and per
	// retrieval step, the newest of the most selective key first; in
	// Improved mode a base subject carried by more tracked emails is common,
	// looked for among the participants' emails first. 0 means
	// DefaultMaxCandidates.
	MaxCandidates int
	// MinConfidence is the confidence below which a match is reported as an
	// abstention (zero Record, with the candidate in Evidence). 0 means
	// DefaultMinConfidence (correlate.Weak). Dynamics-mode matches have
	// confidence correlate.Weak.
	MinConfidence float64

	// HashFilterKeywords (Dynamics mode) is the .NET regular expression whose
	// matches are removed from the subject before hashing; see
	// [CompileFilter]. "" means DefaultHashFilterKeywords; `$^` filters
	// nothing.
	HashFilterKeywords string
	// HashMaxCount (Dynamics mode) is the number of subject words, and of
	// unique addresses, hashed: the first ones. 0 means
	// DefaultHashMaxCount (20).
	HashMaxCount int
	// HashDeltaSubjectCount (Dynamics mode) is how many subject words two
	// emails may differ by (Dynamics' default, 0, is the zero value).
	HashDeltaSubjectCount int
	// HashMinAddressCount (Dynamics mode) is how many addresses two emails
	// must share. 0 means DefaultHashMinAddressCount (2); a negative value
	// requires none.
	HashMinAddressCount int

	// OwnAddresses (Improved mode) are the organization's addresses (its
	// users' and queues' mailboxes) that say nothing about which
	// conversation an email belongs to: they are neither indexed nor shared
	// participants, and their domains are no organization. An entry
	// "@example.com" names a whole domain. The Message.Mailbox of each email
	// is always treated as its own. Setting them also tells who the
	// customers are: every other address, a customer on Cc included, is
	// then a person of the conversation, and a message that shares none of
	// them with a tracked email is another customer's (see the package
	// documentation).
	OwnAddresses []string
	// MinSimilarity (Improved mode) is the normalized Levenshtein similarity,
	// 1 − distance/length over the folded base subjects (the comparison
	// texts of the package documentation), a base subject edited in a reply
	// must keep. 0 means DefaultMinSimilarity; 1 requires equal base
	// subjects.
	MinSimilarity float64
	// HubShare and HubMinCount (Improved mode) define a hub address: one on
	// at least HubMinCount tracked emails and on more than HubShare of all
	// tracked emails (a mailing list, a shared queue). A shared hub counts
	// HubBits, not as a person. 0 means DefaultHubShare and
	// DefaultHubMinCount; a negative HubShare turns hub detection off.
	HubShare    float64
	HubMinCount int
	// HubRefresh (Improved mode) is how long the number of tracked emails
	// read from Index.Stats, and the number of tracked conversations (the
	// count of KindConversation), are reused. 0 means DefaultHubRefresh;
	// negative reads them for every message that needs them.
	HubRefresh time.Duration
	// HalfLife (Improved mode) is the age, measured from the message's Date,
	// at which a candidate's score halves. 0 means DefaultHalfLife.
	HalfLife time.Duration
	// MinScore (Improved mode) is the score, in bits, a candidate needs:
	// the specificity of the base subject plus the participant evidence
	// (AddressBits, OrgBits or HubBits), less FreshBits for a message
	// without a reply or forward prefix and one bit per HalfLife of age.
	// See the package documentation. 0 means DefaultMinScore; a negative
	// MinScore means 0.
	MinScore float64
	// AddressBits, OrgBits, HubBits and NoneBits (Improved mode) weigh the
	// closest participant a candidate shares with the message: the same
	// address, the same organization, only a hub, or nothing besides own
	// addresses. 0 means DefaultAddressBits, DefaultOrgBits, DefaultHubBits
	// and DefaultNoneBits.
	AddressBits, OrgBits, HubBits, NoneBits float64
	// FreshBits (Improved mode) is what a "fresh" message, whose subject
	// has no reply or forward prefix, loses: a fresh message usually starts
	// a conversation ("Service Details" and "New Hire" are sent afresh for
	// each record), but mailing lists and some programs drop the prefix of
	// replies. 0 means DefaultFreshBits; a negative value means 0.
	FreshBits float64
	// MatchFresh (Improved mode) scores a fresh message like a reply: no
	// FreshBits, and a fresh message from the author of the tracked email
	// (which otherwise starts a new conversation) may match.
	MatchFresh bool
	// PriorEmails (Improved mode) is the prior of the word statistics of
	// the subject's specificity; 0 means DefaultPriorEmails.
	PriorEmails float64
	// MaxTerms (Improved mode) bounds the words of a base subject indexed
	// (KindTerm) and counted; 0 means DefaultMaxTerms, at most
	// DefaultMaxTerms are used.
	MaxTerms int
	// MaxAddresses (Improved mode) bounds the participant addresses indexed
	// per email and looked up per message. 0 means DefaultMaxAddresses.
	MaxAddresses int
	// Subject finds base subjects (Improved mode's comparison texts, and
	// Match.SubjectChanged in both modes); nil means the subject package's
	// default Normalizer. Changing it changes Improved mode's keys:
	// re-index.
	Subject *subject.Normalizer

	// Now returns the current time, for messages without a Date and for
	// HubRefresh; nil means time.Now.
	Now func() time.Time
}

// A Correlator correlates an email by the similarity of its subject and
// participants to tracked emails (method SmartMatching) and, as a
// [correlate.Indexer], indexes tracked emails for it. Its behaviour depends
// on its Mode; see the package documentation. It is safe for concurrent use.
type Correlator struct {
	idx    Index
	mode   Mode
	err    error
	window time.Duration
	maxC   int
	minC   float64
	now    func() time.Time

	// Dynamics mode.
	filter   *regexp.Regexp // nil: the default pattern, by filterDefault
	maxCount int
	delta    int
	minAddr  int

	// Improved mode.
	own        map[string]bool
	ownDomains []string // "@example.com"
	ownKnown   bool     // OwnAddresses is not empty
	minSim     float64
	hubShare   float64
	hubMin     int
	hubRefresh time.Duration
	tune       tuning
	maxTerms   int
	halfLife   time.Duration
	fresh      bool
	maxAddrs   int
	norm       *subject.Normalizer

	// The cached total of tracked emails (hub detection) and of
	// conversations (the subject's specificity).
	total   atomic.Int64
	totalAt atomic.Int64 // Unix nanoseconds of the read; 0 before the first
	convs   atomic.Int64
	convsAt atomic.Int64
}

var (
	_ correlate.Correlator = (*Correlator)(nil)
	_ correlate.Indexer    = (*Correlator)(nil)
)

// New returns a Correlator looking candidates up in idx. A nil idx is
// allowed for a Correlator used only as an Indexer or for Hash; its
// Correlate fails. A HashFilterKeywords
// that does not compile is not reported here: every call of Correlate
// returns its error (so a misconfigured deployment stops the chain instead of
// misfiling mail) and Index indexes nothing. Check it with [CompileFilter]
// when the configuration comes from outside.
func New(idx Index, opts *Options) *Correlator {
	var o Options
	if opts != nil {
		o = *opts
	}
	c := &Correlator{
		idx:        idx,
		mode:       o.Mode,
		window:     pick(o.Window, DefaultWindow),
		maxC:       pick(o.MaxCandidates, DefaultMaxCandidates),
		minC:       pick(o.MinConfidence, DefaultMinConfidence),
		now:        o.Now,
		maxCount:   pick(o.HashMaxCount, DefaultHashMaxCount),
		delta:      max(o.HashDeltaSubjectCount, 0),
		minAddr:    pick(o.HashMinAddressCount, DefaultHashMinAddressCount),
		minSim:     pick(o.MinSimilarity, DefaultMinSimilarity),
		hubShare:   pick(o.HubShare, DefaultHubShare),
		hubMin:     pick(o.HubMinCount, DefaultHubMinCount),
		hubRefresh: pick(o.HubRefresh, DefaultHubRefresh),
		maxTerms:   min(max(pick(o.MaxTerms, DefaultMaxTerms), 0), DefaultMaxTerms),
		tune: tuning{
			addrBits:  pick(o.AddressBits, DefaultAddressBits),
			orgBits:   pick(o.OrgBits, DefaultOrgBits),
			hubBits:   pick(o.HubBits, DefaultHubBits),
			noneBits:  pick(o.NoneBits, DefaultNoneBits),
			freshBits: max(pick(o.FreshBits, DefaultFreshBits), 0),
			minScore:  max(pick(o.MinScore, DefaultMinScore), 0),
			prior:     max(pick(o.PriorEmails, DefaultPriorEmails), 0),
		},
		halfLife: pick(o.HalfLife, DefaultHalfLife),
		fresh:    o.MatchFresh,
		maxAddrs: pick(o.MaxAddresses, DefaultMaxAddresses),
		norm:     o.Subject,
	}
	if c.maxCount < 0 {
		c.maxCount = DefaultHashMaxCount
	}
	if c.maxC < 0 {
		c.maxC = DefaultMaxCandidates
	}
	if c.maxAddrs < 0 {
		c.maxAddrs = DefaultMaxAddresses
	}
	if c.minAddr < 0 {
		c.minAddr = 0
	}
	c.minSim = min(max(c.minSim, 0), 1)
	if c.halfLife < 0 {
		c.halfLife = DefaultHalfLife
	}
	if c.norm == nil {
		c.norm = subject.New(nil)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.mode != Improved && c.mode != Dynamics {
		c.err = fmt.Errorf("smartmatch: unknown %v", c.mode)
	}
	if p := o.HashFilterKeywords; p != "" && p != DefaultHashFilterKeywords {
		re, err := CompileFilter(p)
		if err != nil && c.err == nil {
			c.err = err
		}
		c.filter = re
	}
	for _, a := range o.OwnAddresses {
		a = correlate.NormalizeAddress(a)
		switch {
		case a == "" || a == "@":
		case a[0] == '@':
			c.ownDomains = append(c.ownDomains, a)
		default:
			if c.own == nil {
				c.own = make(map[string]bool, len(o.OwnAddresses))
			}
			c.own[a] = true
		}
	}
	c.ownKnown = len(c.own)+len(c.ownDomains) > 0
	if o.Window == 0 && c.mode == Improved {
		c.window = DefaultImprovedWindow
	}
	return c
}

var errNilIndex = errors.New("smartmatch: nil Index")

// pick returns v, or def when v is zero.
func pick[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// String returns the strategy name, "smart".
func (c *Correlator) String() string { return "smart" }

// Mode returns the mode c was configured with.
func (c *Correlator) Mode() Mode { return c.mode }

// Correlate returns the record of the tracked email m most resembles, by the
// rules of c's Mode (see the package documentation), or the zero Match. An
// ambiguous or too weak match is an abstention: no Record, with the
// candidates in the Match's Reason and Evidence. Errors come only from the
// Index, ctx or the configuration.
func (c *Correlator) Correlate(ctx context.Context, m *correlate.Message) (correlate.Match, error) {
	if c.err != nil {
		return correlate.Match{}, c.err
	}
	if c.idx == nil {
		return correlate.Match{}, errNilIndex
	}
	if err := ctx.Err(); err != nil {
		return correlate.Match{}, fmt.Errorf("smartmatch: %w", err)
	}
	if m == nil {
		return correlate.Match{}, nil
	}
	if c.mode == Dynamics {
		return c.correlateDynamics(ctx, m)
	}
	return c.correlateImproved(ctx, m)
}

// Index implements [correlate.Indexer]. In Dynamics mode it appends a
// KindWord key per distinct hash of the first HashMaxCount subject words and
// a KindAddress key per address of the first HashMaxCount unique
// participants: up to 2 × HashMaxCount keys (40 at the defaults; an
// email with 6 words and 3 addresses adds 9). In Improved mode it appends one
// KindSubject key and a KindAddress key per participant that is not an own
// address (m.Mailbox or Options.OwnAddresses), at most MaxAddresses: 1 +
// MaxAddresses keys at most, typically 2 to 4. It adds nothing for a nil m or
// when the configuration is invalid.
func (c *Correlator) Index(m *correlate.Message, t *correlate.Tracked, dst []correlate.Key) []correlate.Key {
	if c.err != nil || m == nil {
		return dst
	}
	if c.mode == Dynamics {
		return c.indexDynamics(m, dst)
	}
	return c.indexImproved(m, t, dst)
}

// since returns the start of the candidate window for m and the reference
// time ages are measured from.
func (c *Correlator) since(m *correlate.Message) (since, ref time.Time) {
	ref = m.Date
	if ref.IsZero() {
		ref = c.now()
	}
	if c.window > 0 {
		since = ref.Add(-c.window)
	}
	return since, ref
}

// participants appends to dst the first limit unique normalized addresses of
// m's From, Sender, To, Cc and Bcc (Message.Participants, found once per
// message) for which keep returns true.
func participants(m *correlate.Message, dst []string, limit int, keep func(string) bool) []string {
	for _, a := range m.Participants() {
		if keep != nil && !keep(a) {
			continue
		}
		if dst = append(dst, a); len(dst) >= limit {
			return dst
		}
	}
	return dst
}

// isOwn reports whether a (normalized) is one of the organization's
// addresses.
func (c *Correlator) isOwn(a string) bool {
	if c.own[a] {
		return true
	}
	for _, d := range c.ownDomains {
		if strings.HasSuffix(a, d) {
			return true
		}
	}
	return false
}

// isOwnDomain reports whether organization org (a registrable domain) is
// one of the organization's own domains: an OwnAddresses domain or the
// domain of an own address is in it.
func (c *Correlator) isOwnDomain(org string) bool {
	for _, d := range c.ownDomains {
		if inOrg(d, org) || d[1:] == org {
			return true
		}
	}
	for a := range c.own {
		if inOrg(a, org) {
			return true
		}
	}
	return false
}

// newer reports whether tracked email a sorts after b: newer, then higher ID.
func newer(a, b *correlate.Tracked) bool {
	if !a.Time.Equal(b.Time) {
		return a.Time.After(b.Time)
	}
	return a.ID > b.ID
}

// decay returns the recency weight of a candidate of the given age.
func (c *Correlator) decay(age time.Duration) float64 {
	if age <= 0 {
		return 1
	}
	return math.Exp2(-float64(age) / float64(c.halfLife))
}
