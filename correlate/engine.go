package correlate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"
)

// EngineOptions configures an [Engine]. A nil *EngineOptions is equivalent
// to the zero value.
type EngineOptions struct {
	// Indexers are consulted in addition to the correlators of the chain
	// that implement [Indexer] (found automatically, nested chains included).
	// The Message-ID key is always indexed.
	Indexers []Indexer
	// Now returns the time used for emails without a Date; nil means
	// time.Now.
	Now func() time.Time

	// SameSubject compares the subjects of a message and of the tracked
	// email that has its Message-ID, for [SameEmail] in Track: whether the
	// message is a copy of that email or another email reusing its id. It
	// should compare base subjects (subject.SameKey, which the root
	// package's New sets); nil compares them ignoring case and runs of
	// white space.
	SameSubject func(a, b string) bool
}

// An Engine correlates and tracks email against a Store: it runs the chain
// (Correlate, which never writes) and files emails under records (Track),
// collecting index keys from every Indexer. An Engine is safe for concurrent
// use when its Store and correlators are.
type Engine struct {
	store    Store
	decider  decider
	chain    *Chain
	indexers []Indexer
	now      func() time.Time
	sameSubj func(a, b string) bool
}

// A decider returns a whole Decision: a *Chain, or a decorator around one
// (package guard's Guard).
type decider interface {
	Decide(ctx context.Context, m *Message) (Decision, error)
}

// NewEngine returns an Engine running c against s. c is a *Chain, or a
// Correlator that wraps one and returns whole Decisions (a method
// Decide(ctx, *Message) (Decision, error), as package guard's Guard has);
// any other Correlator runs as the only stage of a Chain. A nil c
// correlates nothing (every Decision is empty) but still tracks.
func NewEngine(s Store, c Correlator, opts *EngineOptions) *Engine {
	var o EngineOptions
	if opts != nil {
		o = *opts
	}
	if ch, ok := c.(*Chain); ok && ch == nil {
		c = nil
	}
	e := &Engine{store: s, now: o.Now, sameSubj: o.SameSubject}
	switch d := c.(type) {
	case nil:
		e.chain = &Chain{}
		e.decider = e.chain
	case decider:
		e.decider = d
	default:
		e.chain = &Chain{Correlators: []Correlator{c}}
		e.decider = e.chain
	}
	if e.chain == nil {
		e.chain = innerChain(c)
	}
	if e.now == nil {
		e.now = time.Now
	}
	var add func(c any)
	add = func(c any) {
		if ch, ok := c.(*Chain); ok {
			for _, x := range ch.Correlators {
				add(x)
			}
			return
		}
		if u, ok := c.(interface{ Unwrap() Correlator }); ok {
			add(u.Unwrap())
			return
		}
		ix, ok := c.(Indexer)
		if !ok {
			return
		}
		if reflect.TypeOf(ix).Comparable() {
			for _, have := range e.indexers {
				if reflect.TypeOf(have).Comparable() && have == ix {
					return
				}
			}
		}
		e.indexers = append(e.indexers, ix)
	}
	add(c)
	for _, ix := range o.Indexers {
		add(ix)
	}
	return e
}

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.store }

// Chain returns the engine's chain (inside its decorators, such as a
// guard); an empty Chain when it has none. Do not modify it.
func (e *Engine) Chain() *Chain { return e.chain }

// innerChain returns the first *Chain found by unwrapping c, or an empty
// Chain.
func innerChain(c Correlator) *Chain {
	for range 16 { // decorators nest shallowly; a cycle must not hang
		switch x := c.(type) {
		case *Chain:
			return x
		case interface{ Unwrap() Correlator }:
			c = x.Unwrap()
			continue
		}
		break
	}
	return &Chain{}
}

// Correlate runs the chain on m and returns its Decision. It never writes to
// the store. A guard around the chain (package guard) classifies m first,
// vets every match and says whether m may be tracked (Decision.Track).
func (e *Engine) Correlate(ctx context.Context, m *Message) (Decision, error) {
	return e.decider.Decide(ctx, m)
}

// Track files m under how.Record and indexes it, recording how it was
// correlated (how.Method, how.CorrelatedWith, how.Parent). Pass the Match of
// a Decision to track a correlated email, or Match{Record: r} to file one by
// hand. A zero Record tracks the email without a record.
//
// Track is idempotent for the same email: when m is already tracked — its
// Message-ID is, and [SameEmail] finds the stored email to be m (the same
// email synchronized again, a copy from another mailbox) — it returns the
// stored Tracked unchanged and a nil error. An email without a Message-ID
// is tracked under its fingerprint (see Prepare), so it too is tracked once
// however often it is met.
//
// A message whose Message-ID is already tracked for another email (a
// collision: another sender, subject or Date) is tracked as its own email:
// under FingerprintID(m) instead of its Message-ID, and without the
// Message-ID key, so that replies naming that id still reach the email that
// had it first. The returned Tracked then has the fingerprint as its
// MessageID. Tracking the same colliding message again returns it
// unchanged. Likewise an original id that an Indexer reads from a
// provider's header (header.InReplyTo's aliases) is not indexed when it
// already names another email.
func (e *Engine) Track(ctx context.Context, m *Message, how Match) (Tracked, error) {
	t, keys := e.Prepare(m, how)
	keys, err := e.dropForeignIDs(ctx, m, keys)
	if err != nil {
		return Tracked{}, err
	}
	got, err := e.store.Put(ctx, t, keys)
	if errors.Is(err, ErrExists) {
		if m.MessageID == "" {
			return got, nil // stored under its fingerprint: the same content
		}
		if same, _ := SameEmail(m, &got, e.sameSubj); same {
			return got, nil
		}
		return e.trackCollision(ctx, m, t, keys, got)
	}
	if err != nil {
		return Tracked{}, fmt.Errorf("correlate: track %q: %w", t.MessageID, err)
	}
	return got, nil
}

// dropForeignIDs removes from keys the other Message-ID keys an Indexer
// added for m (the original id a provider preserved when it rewrote the
// Message-ID) that already name another email: a message claiming, in such
// a header, the id of an email it is not must not take over that id, or
// replies to that email would find it.
func (e *Engine) dropForeignIDs(ctx context.Context, m *Message, keys []Key) ([]Key, error) {
	for i := 1; i < len(keys); i++ {
		k := keys[i]
		if k.Kind != KindMessageID || k == keys[0] {
			continue
		}
		ts, err := e.store.Lookup(ctx, k, Query{Limit: 2})
		if err != nil {
			return nil, fmt.Errorf("correlate: track: lookup %q: %w", k.Value, err)
		}
		for j := range ts {
			if same, _ := SameEmail(m, &ts[j], e.sameSubj); !same {
				keys = slices.Delete(keys, i, i+1)
				i--
				break
			}
		}
	}
	return keys, nil
}

// trackCollision stores t, whose Message-ID other already has, as its own
// email under FingerprintID(m), leaving the Message-ID key to other.
func (e *Engine) trackCollision(ctx context.Context, m *Message, t Tracked, keys []Key, other Tracked) (Tracked, error) {
	fp := FingerprintID(m)
	if fp == "" {
		return Tracked{}, fmt.Errorf("correlate: track %q: the Message-ID is tracked for another email (tracked email %d) and the message has nothing to fingerprint: %w",
			t.MessageID, other.ID, ErrExists)
	}
	own := Key{Kind: KindMessageID, Value: t.MessageID}
	t.MessageID = fp
	keys[0] = Key{Kind: KindMessageID, Value: fp} // Prepare's first key is own
	keys = append(keys[:1], slices.DeleteFunc(keys[1:], func(k Key) bool { return k == own })...)
	got, err := e.store.Put(ctx, t, keys)
	if errors.Is(err, ErrExists) {
		return got, nil // tracked before under its fingerprint: the same content
	}
	if err != nil {
		return Tracked{}, fmt.Errorf("correlate: track %q (its Message-ID collides with tracked email %d): %w", fp, other.ID, err)
	}
	return got, nil
}

// Prepare returns the tracked email and the index keys Track would store
// for m, without storing them: for callers that write them with other
// state in one transaction (a mailbox sync writes its cursor with them).
//
// An email without a Message-ID gets a stand-in, FingerprintID(m), so that
// the same email met twice (a re-run, a copy in a second mailbox) is
// stored once: replies cannot name it, so nothing correlates by it.
//
// The first key is always the Message-ID key (KindMessageID, t.MessageID).
// Prepare does not read the store, so it cannot tell a copy of a tracked
// email from a collision. When the write reports the email as already
// stored (ErrExists, or store.Result.Existing) and [SameEmail] finds the
// stored email is not m, do as Track does: replace t.MessageID and the
// value of the first key by FingerprintID(m), drop any other key equal to
// the first one, and write again. Track also drops the other Message-ID
// keys that name another email (see Track); Prepare keeps them.
func (e *Engine) Prepare(m *Message, how Match) (Tracked, []Key) {
	t := Tracked{
		MessageID:         m.MessageID,
		Record:            how.Record,
		ConversationIndex: m.ThreadIndex,
		Subject:           m.Subject,
		Participants:      m.Participants(),
		Mailbox:           m.Mailbox,
		FolderID:          m.FolderID,
		FolderPath:        m.FolderPath,
		Direction:         m.Direction,
		Time:              m.Date,
		Method:            how.Method,
	}
	if t.MessageID == "" {
		t.MessageID = FingerprintID(m)
	}
	if t.Time.IsZero() {
		t.Time = e.now()
	}
	if how.CorrelatedWith != nil {
		t.CorrelatedWith = how.CorrelatedWith.ID
	}
	if how.Parent != nil {
		t.Parent = how.Parent.ID
	}
	keys := make([]Key, 0, 8)
	keys = append(keys, Key{Kind: KindMessageID, Value: t.MessageID})
	for _, ix := range e.indexers {
		keys = ix.Index(m, &t, keys)
	}
	return t, keys
}

// Lookup reports whether the email with the given Message-ID is tracked, and
// under what: the tracked email, or an error wrapping ErrNotFound.
func (e *Engine) Lookup(ctx context.Context, messageID string) (Tracked, error) {
	k := MessageIDKey(messageID)
	if k.Value == "" {
		return Tracked{}, fmt.Errorf("correlate: lookup: empty message id: %w", ErrNotFound)
	}
	ts, err := e.store.Lookup(ctx, k, Query{Limit: 1})
	if err != nil {
		return Tracked{}, fmt.Errorf("correlate: lookup %q: %w", k.Value, err)
	}
	if len(ts) == 0 {
		return Tracked{}, fmt.Errorf("correlate: lookup %q: %w", k.Value, ErrNotFound)
	}
	return ts[0], nil
}

// Relink files the tracked email id under r (the user "changed regarding");
// later replies follow the new record.
func (e *Engine) Relink(ctx context.Context, id int64, r Record) error {
	if err := e.store.Relink(ctx, id, r); err != nil {
		return fmt.Errorf("correlate: relink %d: %w", id, err)
	}
	return nil
}

// Untrack removes the tracked email id and its keys; later email no longer
// correlates with it.
func (e *Engine) Untrack(ctx context.Context, id int64) error {
	if err := e.store.Delete(ctx, id); err != nil {
		return fmt.Errorf("correlate: untrack %d: %w", id, err)
	}
	return nil
}
