// Package actions is what a person can do, from the email they are reading,
// with the email's record: the actions of the Dynamics 365 App for Outlook,
// as one library API over a correlation engine and its store.
//
//   - Lookup: is the email tracked, under what record, by which method.
//   - Track: correlate the email and file it under the record found.
//   - Link: file an untracked email under a record chosen by hand. An
//     email already tracked under another record is an error
//     ([ErrTrackedElsewhere], naming that record): Relink is the explicit
//     way to move it, so a second Link never silently keeps or overwrites
//     the first.
//   - Relink: change the record of a tracked email, with who and why; every
//     change is kept and History lists them.
//   - Convert: have the CRM create a record (a case, a lead, an
//     opportunity) from the email — subject, sender, a body excerpt —
//     through its [RecordCreator], and file the email under it.
//   - Contacts: the From, To and Cc addresses the directory does not
//     resolve (the organization's own addresses left out), offered as new
//     contacts; CreateContacts has the CRM create the chosen ones.
//   - Emails: a record's tracked emails, newest first, page by page.
//
// The HTTP service (package httpapi) serves these actions to programs in any
// language and to the task pane.
//
// # Concurrency
//
// An Actions is safe for concurrent use. Link, Track and Convert of the same
// email are serialized within one Actions, so two people linking the same
// untracked email at the same instant get one success and one
// [ErrTrackedElsewhere]. Across processes sharing one database the check and
// the write are two steps: two processes linking the same untracked email at
// the same instant may both succeed, the later one moving the email, and
// History then shows both changes.
package actions

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/subject"
	"github.com/mailcorrelate/mailcorrelate/token"
)

var (
	// ErrTrackedElsewhere is matched (errors.Is) by the *TrackedElsewhereError
	// Link returns for an email tracked under another record.
	ErrTrackedElsewhere = errors.New("actions: tracked under another record")
	// ErrNoIdentity is returned (wrapped) for an email without a
	// Message-ID and without anything to fingerprint it by: nothing could
	// find it again.
	ErrNoIdentity = errors.New("actions: email has no Message-ID and nothing to fingerprint")
	// ErrNoRecord is returned (wrapped) by Link when the record to file
	// the email under is the zero Record, and by Convert when the
	// RecordCreator declined.
	ErrNoRecord = errors.New("actions: no record")
	// ErrBadCause is returned (wrapped) by Relink for a cause that is not
	// one of store's causes.
	ErrBadCause = errors.New("actions: unknown cause")
	// ErrNoDirectory is returned (wrapped) by the contact actions of an
	// Actions built without a party.Resolver, and by CreateContacts
	// without Options.NewContact.
	ErrNoDirectory = errors.New("actions: no directory")
	// ErrNotCandidate is returned (wrapped) by CreateContacts for a chosen
	// address that is not a candidate of the email: not on it, already
	// resolved, or one of the organization's own.
	ErrNotCandidate = errors.New("actions: not a contact candidate")
)

// A TrackedElsewhereError reports an email that Link was asked to file under
// one record while it is tracked under another.
type TrackedElsewhereError struct {
	// MessageID is the email's normalized Message-ID (or fingerprint id).
	MessageID string
	// ID is the tracked email's ID; Record the record it is tracked under.
	ID     int64
	Record correlate.Record
}

// Error names the record the email is tracked under.
func (e *TrackedElsewhereError) Error() string {
	return fmt.Sprintf("actions: %s is tracked under %s (relink to change it)", e.MessageID, e.Record)
}

// Is reports whether target is ErrTrackedElsewhere.
func (e *TrackedElsewhereError) Is(target error) bool { return target == ErrTrackedElsewhere }

// DefaultExcerptRunes is the length of Convert's body excerpt when
// Options.ExcerptRunes is 0.
const DefaultExcerptRunes = 500

// Options configures an [Actions]. A nil *Options is the zero value: no
// directory (the contact actions report ErrNoDirectory), Dynamics' token
// format, excerpts of DefaultExcerptRunes.
type Options struct {
	// Resolver resolves addresses against the CRM's directory, for the
	// contact actions.
	Resolver *party.Resolver
	// NewContact creates a record (a contact, a lead) for an address the
	// directory does not resolve; CreateContacts calls it for each chosen
	// address. It is the same hook as party.Options.NewContact: it may
	// return the zero Record to decline, must be safe for concurrent use
	// and should be idempotent per address, and it should add the new
	// record to the directory, so the address resolves from then on.
	NewContact func(ctx context.Context, m *correlate.Message, p party.Party) (correlate.Record, error)
	// OwnAddresses are the organization's own addresses, left out of the
	// contact candidates: "support@example.com", or "@example.com" for a
	// whole domain. The email's mailbox (Message.Mailbox) is always one.
	OwnAddresses []string
	// Token is the tracking token format stripped from subjects when
	// Convert proposes a title; the zero Format is Dynamics' default.
	Token token.Format
	// ExcerptRunes is the length of Convert's body excerpt in characters;
	// 0 means DefaultExcerptRunes, negative means no excerpt.
	ExcerptRunes int
}

// Actions are the App-for-Outlook actions over one engine and its store.
// Build them with [New].
type Actions struct {
	eng        *correlate.Engine
	st         store.Store
	res        *party.Resolver
	newContact func(ctx context.Context, m *correlate.Message, p party.Party) (correlate.Record, error)
	ownAddrs   map[string]bool
	ownDomains []string // "@domain", normalized
	tok        token.Format
	excerpt    int

	seed  maphash.Seed
	locks [64]sync.Mutex
}

// New returns the actions of eng. The engine's store must be a
// [store.Store] (memstore and sqlstore are): the actions need its batches,
// history and timeline.
func New(eng *correlate.Engine, opts *Options) (*Actions, error) {
	if eng == nil {
		return nil, errors.New("actions: nil engine")
	}
	st, ok := eng.Store().(store.Store)
	if !ok {
		return nil, fmt.Errorf("actions: the engine's store (%T) is not a store.Store", eng.Store())
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	a := &Actions{eng: eng, st: st, res: o.Resolver, newContact: o.NewContact, tok: o.Token,
		excerpt: o.ExcerptRunes, ownAddrs: map[string]bool{}, seed: maphash.MakeSeed()}
	if a.excerpt == 0 {
		a.excerpt = DefaultExcerptRunes
	}
	if err := a.tok.Validate(); err != nil {
		return nil, fmt.Errorf("actions: token format: %w", err)
	}
	for _, s := range o.OwnAddresses {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
		case strings.HasPrefix(s, "@"):
			d, err := a.normalizer().NormalizeDomain(s)
			if err != nil {
				return nil, fmt.Errorf("actions: own address %q: %w", s, err)
			}
			a.ownDomains = append(a.ownDomains, "@"+d)
		default:
			n, err := a.normalizer().Normalize(s)
			if err != nil {
				return nil, fmt.Errorf("actions: own address %q: %w", s, err)
			}
			a.ownAddrs[n] = true
		}
	}
	return a, nil
}

// Engine returns the engine the actions run.
func (a *Actions) Engine() *correlate.Engine { return a.eng }

// Store returns the engine's store.
func (a *Actions) Store() store.Store { return a.st }

// Resolver returns the directory resolver of Options; nil when none.
func (a *Actions) Resolver() *party.Resolver { return a.res }

func (a *Actions) normalizer() *party.Normalizer {
	if a.res != nil {
		return a.res.Normalizer()
	}
	return &party.Normalizer{}
}

// lock serializes the writes of one email within a.
func (a *Actions) lock(id string) func() {
	mu := &a.locks[maphash.String(a.seed, id)%uint64(len(a.locks))]
	mu.Lock()
	return mu.Unlock
}

// Identity returns the id the store knows m by: its normalized Message-ID,
// or for an email without one its fingerprint id (correlate.FingerprintID);
// "" when m has neither.
func Identity(m *correlate.Message) string {
	if m == nil {
		return ""
	}
	if id := correlate.NormalizeMessageID(m.MessageID); id != "" {
		return id
	}
	return correlate.FingerprintID(m)
}

func identity(m *correlate.Message) (string, error) {
	id := Identity(m)
	if id == "" {
		return "", ErrNoIdentity
	}
	return id, nil
}

// find returns the tracked email with the given id, ok false when none.
func (a *Actions) find(ctx context.Context, id string) (correlate.Tracked, bool, error) {
	t, err := a.eng.Lookup(ctx, id)
	if errors.Is(err, correlate.ErrNotFound) {
		return correlate.Tracked{}, false, nil
	}
	if err != nil {
		return correlate.Tracked{}, false, err
	}
	return t, true, nil
}

// Lookup reports whether the email with the given Message-ID (angle
// brackets optional) is tracked, and under what: the tracked email, or an
// error wrapping correlate.ErrNotFound.
func (a *Actions) Lookup(ctx context.Context, messageID string) (correlate.Tracked, error) {
	t, err := a.eng.Lookup(ctx, messageID)
	if err != nil {
		return correlate.Tracked{}, fmt.Errorf("actions: %w", err)
	}
	return t, nil
}

// A Filing is what Track, Link, Relink and Convert did.
type Filing struct {
	// Tracked is the tracked email as it is now (its Record the record it
	// is filed under); zero when the email was not tracked.
	Tracked correlate.Tracked
	// Decision is the engine's decision, for Track; zero for the others.
	Decision correlate.Decision
	// New reports an email stored by this call.
	New bool
	// Change is the change of record this call made and kept; nil when
	// the record did not change.
	Change *store.Change
	// NotTracked says why Track left the email untracked (an auto-reply,
	// a bounce, a mail loop: see correlate.Decision.NoTrack); "" when it
	// is tracked.
	NotTracked string
}

// Track correlates m and files it: under the record the engine found, or
// without a record when none was found. An email already tracked stays as
// it is (Filing.New false, its record unchanged). Auto-replies, bounces and
// loops are correlated but not tracked, as the engine decides (Filing
// reports why in NotTracked).
func (a *Actions) Track(ctx context.Context, m *correlate.Message) (Filing, error) {
	id, err := identity(m)
	if err != nil {
		return Filing{}, fmt.Errorf("actions: track: %w", err)
	}
	d, err := a.eng.Correlate(ctx, m)
	if err != nil {
		return Filing{}, fmt.Errorf("actions: track %q: %w", id, err)
	}
	defer a.lock(id)()
	t, ok, err := a.find(ctx, id)
	if err != nil {
		return Filing{}, fmt.Errorf("actions: track %q: %w", id, err)
	}
	if ok {
		return Filing{Tracked: t, Decision: d}, nil
	}
	if d.NoTrack != "" {
		return Filing{Decision: d, NotTracked: d.NoTrack}, nil
	}
	t, keys := a.eng.Prepare(m, d.Match)
	res, err := a.st.Apply(ctx, store.Batch{Puts: []store.Entry{{Tracked: t, Keys: keys}}})
	if err != nil {
		return Filing{}, fmt.Errorf("actions: track %q: %w", id, err)
	}
	return Filing{Tracked: res.Tracked[0], Decision: d, New: !res.Existing[0]}, nil
}

// Link files m under r by hand, on behalf of actor (a user name or
// address; "" when unknown), and keeps that as a change of record (cause
// manual) in its History.
//
// An untracked email is stored under r; an email tracked without a record
// (a track-only folder) is moved to r; an email already under r is left as
// it is (Filing.Change nil). An email tracked under another record is not
// touched: the error is a *TrackedElsewhereError naming that record
// (errors.Is ErrTrackedElsewhere). Use Relink to move it.
func (a *Actions) Link(ctx context.Context, m *correlate.Message, r correlate.Record, actor string) (Filing, error) {
	return a.file(ctx, m, r, actor, store.CauseManual, "link")
}

// file stores m under r with a kept change of the given cause, refusing an
// email tracked under another record.
func (a *Actions) file(ctx context.Context, m *correlate.Message, r correlate.Record, actor string, cause store.Cause, op string) (Filing, error) {
	id, err := identity(m)
	if err != nil {
		return Filing{}, fmt.Errorf("actions: %s: %w", op, err)
	}
	if r.IsZero() {
		return Filing{}, fmt.Errorf("actions: %s %q: %w", op, id, ErrNoRecord)
	}
	defer a.lock(id)()
	t, ok, err := a.find(ctx, id)
	if err != nil {
		return Filing{}, fmt.Errorf("actions: %s %q: %w", op, id, err)
	}
	switch {
	case ok && t.Record == r:
		return Filing{Tracked: t}, nil
	case ok && !t.Record.IsZero():
		return Filing{Tracked: t}, &TrackedElsewhereError{MessageID: t.MessageID, ID: t.ID, Record: t.Record}
	case ok:
		return a.relink(ctx, t, r, actor, cause, op)
	}
	return a.store(ctx, m, r, actor, cause, op)
}

// store stores the untracked m without a record and moves it to r in the
// same batch, so the filing is kept in its History with actor and cause.
func (a *Actions) store(ctx context.Context, m *correlate.Message, r correlate.Record, actor string, cause store.Cause, op string) (Filing, error) {
	t, keys := a.eng.Prepare(m, correlate.Match{})
	res, err := a.st.Apply(ctx, store.Batch{
		Puts:    []store.Entry{{Tracked: t, Keys: keys}},
		Relinks: []store.Relink{{MessageID: t.MessageID, Record: r, Change: store.Change{Actor: actor, Cause: cause}}},
	})
	if err != nil {
		return Filing{}, fmt.Errorf("actions: %s %q: %w", op, t.MessageID, err)
	}
	f := Filing{Tracked: res.Tracked[0], New: !res.Existing[0]}
	f.Tracked.Record = r
	if len(res.Changes) > 0 {
		c := res.Changes[0]
		f.Change = &c
	}
	return f, nil
}

// relink moves the tracked email t to r and keeps the change.
func (a *Actions) relink(ctx context.Context, t correlate.Tracked, r correlate.Record, actor string, cause store.Cause, op string) (Filing, error) {
	res, err := a.st.Apply(ctx, store.Batch{Relinks: []store.Relink{{ID: t.ID, Record: r, Change: store.Change{Actor: actor, Cause: cause}}}})
	if err != nil {
		return Filing{Tracked: t}, fmt.Errorf("actions: %s %q: %w", op, t.MessageID, err)
	}
	f := Filing{Tracked: t}
	f.Tracked.Record = r
	if len(res.Changes) > 0 {
		c := res.Changes[0]
		f.Change = &c
	}
	return f, nil
}

// Relink files the tracked email with the given Message-ID under r (the
// zero Record unlinks it: tracked, under no record) on behalf of actor, for
// cause ("" means store.CauseManual), and keeps the change in its History.
// A relink to the record the email already has changes and keeps nothing
// (Filing.Change nil). An untracked email is an error wrapping
// correlate.ErrNotFound.
func (a *Actions) Relink(ctx context.Context, messageID string, r correlate.Record, actor string, cause store.Cause) (Filing, error) {
	if cause == "" {
		cause = store.CauseManual
	}
	switch cause {
	case store.CauseManual, store.CauseFolder, store.CauseMerge, store.CauseConvert:
	default:
		return Filing{}, fmt.Errorf("actions: relink %q: %w %q", messageID, ErrBadCause, cause)
	}
	t, err := a.Lookup(ctx, messageID)
	if err != nil {
		return Filing{}, err
	}
	return a.relink(ctx, t, r, actor, cause, "relink")
}

// Untrack removes the tracked email with the given Message-ID, its keys
// and its history: later email no longer correlates with it. An untracked
// email is an error wrapping correlate.ErrNotFound.
func (a *Actions) Untrack(ctx context.Context, messageID string) error {
	t, err := a.Lookup(ctx, messageID)
	if err != nil {
		return err
	}
	if err := a.eng.Untrack(ctx, t.ID); err != nil {
		return fmt.Errorf("actions: %w", err)
	}
	return nil
}

// History returns the changes of record of the tracked email with the
// given Message-ID, oldest first: from, to, who, why and when. An email
// that never changed record has none; an untracked email is an error
// wrapping correlate.ErrNotFound.
func (a *Actions) History(ctx context.Context, messageID string) (correlate.Tracked, []store.Change, error) {
	t, err := a.Lookup(ctx, messageID)
	if err != nil {
		return correlate.Tracked{}, nil, err
	}
	cs, err := a.st.History(ctx, t.ID)
	if err != nil {
		return t, nil, fmt.Errorf("actions: history of %q: %w", t.MessageID, err)
	}
	return t, cs, nil
}

// Emails returns a page of the emails filed under r, newest first, at most
// limit (<= 0 means correlate.DefaultLimit), and the cursor of the next page
// ("" on the last). Pass "" for the first page; a cursor the store did not
// make is an error wrapping store.ErrBadCursor. The zero Record lists the
// emails tracked without a record.
func (a *Actions) Emails(ctx context.Context, r correlate.Record, limit int, cursor string) ([]correlate.Tracked, string, error) {
	ts, next, err := a.st.Emails(ctx, r, limit, cursor)
	if err != nil {
		return nil, "", fmt.Errorf("actions: emails of %s: %w", r, err)
	}
	return ts, next, nil
}

// A RecordCreator creates a record of the CRM from an email: a case, a
// lead, an opportunity. The CRM implements it; Convert calls it.
type RecordCreator interface {
	// CreateRecord creates the record req describes and returns it, or the
	// zero Record to decline. It should create one record per call: a
	// person who converts the same email twice gets two records.
	CreateRecord(ctx context.Context, req RecordRequest) (correlate.Record, error)
}

// RecordCreatorFunc adapts a function to [RecordCreator].
type RecordCreatorFunc func(ctx context.Context, req RecordRequest) (correlate.Record, error)

// CreateRecord calls f.
func (f RecordCreatorFunc) CreateRecord(ctx context.Context, req RecordRequest) (correlate.Record, error) {
	return f(ctx, req)
}

// A RecordRequest is what Convert asks a RecordCreator to create.
type RecordRequest struct {
	// Type is the record type the person chose ("incident", "lead",
	// "opportunity"); "" leaves the choice to the creator.
	Type string
	// Title is the proposed title: the subject without reply and forward
	// prefixes, list tags and tracking tokens.
	Title string
	// Subject is the email's subject as sent.
	Subject string
	// Sender is the first From address (or Sender when From is empty).
	Sender correlate.Address
	// Excerpt is the start of the email's text body, quoted lines and
	// the quoted original left out, white space collapsed, at most
	// Options.ExcerptRunes characters; "" when the body was not read.
	Excerpt string
	// MessageID is the email's id (Identity); Date its date.
	MessageID string
	Date      time.Time
	// Actor is who converts; Previous the record the email is filed under
	// now (zero when none or untracked).
	Actor    string
	Previous correlate.Record
	// Message is the email itself.
	Message *correlate.Message
}

// Convert has c create a record from m (of type typ, "" for the creator's
// choice) on behalf of actor, then files m under it: an untracked email is
// stored under it, a tracked one moved to it; either way the change is kept
// in its History with cause store.CauseConvert. A creator that declines
// (the zero Record) is an error wrapping ErrNoRecord. When the record was
// created but filing the email failed, the error names the new record.
func (a *Actions) Convert(ctx context.Context, m *correlate.Message, c RecordCreator, typ, actor string) (Filing, error) {
	id, err := identity(m)
	if err != nil {
		return Filing{}, fmt.Errorf("actions: convert: %w", err)
	}
	if c == nil {
		return Filing{}, fmt.Errorf("actions: convert %q: nil RecordCreator", id)
	}
	defer a.lock(id)()
	t, ok, err := a.find(ctx, id)
	if err != nil {
		return Filing{}, fmt.Errorf("actions: convert %q: %w", id, err)
	}
	req := RecordRequest{Type: typ, Title: a.Title(m.Subject), Subject: m.Subject, Excerpt: Excerpt(m.Text, a.excerpt),
		MessageID: id, Date: m.Date, Actor: actor, Previous: t.Record, Message: m}
	req.Sender = sender(m)
	rec, err := c.CreateRecord(ctx, req)
	if err != nil {
		return Filing{}, fmt.Errorf("actions: convert %q: %w", id, err)
	}
	if rec.IsZero() {
		return Filing{}, fmt.Errorf("actions: convert %q: the creator declined: %w", id, ErrNoRecord)
	}
	var f Filing
	if ok {
		f, err = a.relink(ctx, t, rec, actor, store.CauseConvert, "convert")
	} else {
		f, err = a.store(ctx, m, rec, actor, store.CauseConvert, "convert")
	}
	if err != nil {
		return f, fmt.Errorf("actions: created %s, but filing the email under it failed: %w", rec, err)
	}
	return f, nil
}

func sender(m *correlate.Message) correlate.Address {
	for _, a := range m.From {
		if strings.TrimSpace(a.Address) != "" {
			return a
		}
	}
	return m.Sender
}

// Title returns the title Convert proposes for an email with subject s:
// reply and forward prefixes, list tags and tracking tokens removed.
func (a *Actions) Title(s string) string {
	s = a.tok.Strip(s)
	base, _ := subject.Base(s)
	if strings.TrimSpace(base) == "" {
		return strings.TrimSpace(s)
	}
	return base
}

// Excerpt returns the start of a text body, at most n characters (n <= 0:
// ""): lines quoted with ">" are left out, the text stops at a quoted
// original ("-----Original Message-----", Outlook's line of underscores, an
// "On … wrote:" line), white space runs become one space, and a text cut
// short ends with "…".
func Excerpt(text string, n int) string {
	if n <= 0 {
		return ""
	}
	var words []string
	runes := 0
lines:
	for line := range strings.Lines(text) {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, ">") {
			continue
		}
		if quoteStart(l) {
			break
		}
		for _, w := range strings.FieldsFunc(l, func(r rune) bool {
			return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
		}) {
			words = append(words, w)
			runes += utf8.RuneCountInString(w) + 1
			if runes > n+1 {
				break lines // enough to know it is cut
			}
		}
	}
	s := strings.Join(words, " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := 0
	for i := range s {
		if cut == n-1 {
			return strings.TrimRightFunc(s[:i], unicode.IsSpace) + "…"
		}
		cut++
	}
	return s
}

// quoteStart reports a line that introduces a quoted original.
func quoteStart(l string) bool {
	switch {
	case strings.HasPrefix(l, "-----Original Message-----"), strings.HasPrefix(l, "-----Ursprüngliche Nachricht-----"),
		strings.HasPrefix(l, "-----Message d'origine-----"):
		return true
	case len(l) >= 20 && strings.Trim(l, "_") == "":
		return true
	case strings.HasSuffix(l, "wrote:") && (strings.HasPrefix(l, "On ") || strings.HasPrefix(l, "Am ")):
		return true
	}
	return false
}
