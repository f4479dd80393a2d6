package folder

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// A Mapping is one folder-level tracking rule (a Dynamics
// mailboxtrackingfolder row): the folder FolderID of Mailbox is tracked, and
// its email is filed under Record, or only tracked when Record is zero.
//
// The folder is identified by its id (Exchange's exchangefolderid, an IMAP
// or Graph id; callers without stable ids use the path as id), so a rename
// keeps the rule. FolderPath is the folder's current path, kept to check
// that the folder is under Inbox; Disabled reports that it no longer is.
type Mapping struct {
	// Mailbox names the mailbox (an address or any caller identifier). It
	// is compared as correlate.NormalizeAddress does: trimmed, lower-cased.
	Mailbox string `json:"mailbox"`
	// FolderID identifies the folder; compared exactly.
	FolderID string `json:"folder_id"`
	// FolderPath is the folder's path, e.g. "Inbox/Clients/Contoso"; see
	// [Config.CheckPath].
	FolderPath string `json:"folder_path"`
	// Record is the record the folder's email is filed under; zero means
	// the folder only tracks (the rest of the chain decides the record).
	Record correlate.Record `json:"record,omitzero"`
	// Disabled reports that the folder was moved outside Inbox, which
	// disables its rule. It follows from FolderPath: Rules set it, and Add
	// accepts a path outside Inbox only when it is set (a rule saved after
	// its folder moved out).
	Disabled bool `json:"disabled,omitempty"`
}

// TrackOnly reports whether the mapping tracks email without a record.
func (mp Mapping) TrackOnly() bool { return mp.Record.IsZero() }

// String returns a one-line description:
//
//	anna@fabrikam.example "Inbox/Clients/Contoso" (id AAMk1) → account:contoso
func (mp Mapping) String() string {
	var b strings.Builder
	b.WriteString(mp.Mailbox)
	b.WriteByte(' ')
	b.WriteString(quote(mp.FolderPath))
	b.WriteString(" (id ")
	b.WriteString(mp.FolderID)
	b.WriteString(") → ")
	if mp.TrackOnly() {
		b.WriteString("track only")
	} else {
		b.WriteString(mp.Record.String())
	}
	if mp.Disabled {
		b.WriteString(" [disabled: outside Inbox]")
	}
	return b.String()
}

// A rule is a validated Mapping with what the correlator needs precomputed.
// Rules are immutable: a change replaces the rule, so readers may keep using
// a rule after releasing the lock.
//
// A rule's texts share one allocation, laid out as
// mailbox NUL folder-id NUL path NUL reason, so that the correlator's look-up
// touches few cache lines among 250,000 rules.
type rule struct {
	Mapping
	kv     string // Mailbox NUL FolderID: the look-up key and the index key's value
	reason string
	// ev is the Evidence of a plain match, shared by the Matches the rule
	// produces; its capacity equals its length, so appending copies it.
	ev    []correlate.Evidence
	evArr [1]correlate.Evidence
}

// key returns the folder's index key.
func (rl *rule) key() correlate.Key { return correlate.Key{Kind: Kind, Value: rl.kv} }

// newRule builds the rule of a validated, normalized mapping.
func newRule(mp Mapping) *rule {
	note := "tracked without a record"
	if !mp.TrackOnly() {
		note = "mapped to " + mp.Record.String()
	}
	reason := "folder " + quote(mp.FolderPath) + " of " + mp.Mailbox + " is " + note
	buf := mp.Mailbox + "\x00" + mp.FolderID + "\x00" + mp.FolderPath + "\x00" + reason
	i := len(mp.Mailbox)
	j := i + 1 + len(mp.FolderID)
	k := j + 1 + len(mp.FolderPath)
	rl := &rule{Mapping: mp, kv: buf[:j], reason: buf[k+1:]}
	rl.Mailbox, rl.FolderID, rl.FolderPath = buf[:i], buf[i+1:j], buf[j+1:k]
	rl.evArr[0] = correlate.Evidence{Field: FieldFolder, Value: rl.FolderPath, Note: buf[len(buf)-len(note):]}
	rl.ev = rl.evArr[:1:1]
	return rl
}

// Rules is a set of folder mappings, validated as Dynamics validates them:
// only folders under Inbox, at most Config.MaxPerMailbox (25) per mailbox,
// no queue mailboxes, one mapping per folder id. Several folders may map to
// one record, and a subfolder is tracked only when it is mapped itself.
//
// The zero Rules is empty, uses the default Config and is ready to use;
// NewRules sets another Config. Rules is safe for concurrent use: mappings
// may change while correlators read them. Do not copy a Rules after first
// use.
//
// Rules marshals to and from JSON (see the package documentation for the
// format), so callers persist it where they like.
type Rules struct {
	mu        sync.RWMutex
	cfg       Config
	byKey     map[string]*rule            // rule.kv → rule: the correlator's look-up
	mailboxes map[string]map[string]*rule // normalized mailbox → folder id → rule
	queues    map[string]bool
}

// put stores rl, replacing the rule of the same folder. The caller holds the
// write lock.
func (r *Rules) put(rl *rule) {
	if r.byKey == nil {
		r.byKey = make(map[string]*rule)
		r.mailboxes = make(map[string]map[string]*rule)
	}
	fs := r.mailboxes[rl.Mailbox]
	if fs == nil {
		fs = make(map[string]*rule)
		r.mailboxes[rl.Mailbox] = fs
	}
	// Delete first: an overwrite would keep the old key, and with it the
	// old rule's texts.
	delete(fs, rl.FolderID)
	delete(r.byKey, rl.kv)
	fs[rl.FolderID] = rl
	r.byKey[rl.kv] = rl
}

// del removes the rule of a folder. The caller holds the write lock.
func (r *Rules) del(rl *rule) {
	fs := r.mailboxes[rl.Mailbox]
	delete(fs, rl.FolderID)
	if len(fs) == 0 {
		delete(r.mailboxes, rl.Mailbox)
	}
	delete(r.byKey, rl.kv)
}

// NewRules returns an empty rule set with the given Config; nil means the
// defaults. The error wraps ErrBadConfig.
func NewRules(cfg *Config) (*Rules, error) {
	r := &Rules{}
	if cfg != nil {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		r.cfg = *cfg
		r.cfg.InboxNames = slices.Clone(cfg.InboxNames)
	}
	return r, nil
}

// Config returns the rule set's configuration.
func (r *Rules) Config() Config {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c := r.cfg
	c.InboxNames = slices.Clone(c.InboxNames)
	return c
}

// Len returns the number of mappings.
func (r *Rules) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.byKey)
}

// Mapping returns the mapping of a folder and whether there is one.
func (r *Rules) Mapping(mailbox, folderID string) (Mapping, bool) {
	if rl, _ := r.lookup(mailbox, folderID); rl != nil {
		return rl.Mapping, true
	}
	return Mapping{}, false
}

// Mappings returns the mappings of mailbox, or of every mailbox when mailbox
// is "", ordered by mailbox, folder path and folder id.
func (r *Rules) Mappings(mailbox string) []Mapping {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.mappingsLocked(mailbox)
}

func (r *Rules) mappingsLocked(mailbox string) []Mapping {
	var out []Mapping
	if mailbox == "" {
		out = make([]Mapping, 0, len(r.byKey))
		for _, fs := range r.mailboxes {
			for _, rl := range fs {
				out = append(out, rl.Mapping)
			}
		}
	} else {
		fs := r.mailboxes[correlate.NormalizeAddress(mailbox)]
		out = make([]Mapping, 0, len(fs))
		for _, rl := range fs {
			out = append(out, rl.Mapping)
		}
	}
	slices.SortFunc(out, func(a, b Mapping) int {
		return cmp.Or(strings.Compare(a.Mailbox, b.Mailbox),
			strings.Compare(a.FolderPath, b.FolderPath),
			strings.Compare(a.FolderID, b.FolderID))
	})
	return out
}

// IsQueue reports whether mailbox was marked as a queue by SetQueue.
func (r *Rules) IsQueue(mailbox string) bool {
	mb := correlate.NormalizeAddress(mailbox)
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.queues[mb]
}

// SetQueue marks mailbox as a queue mailbox (queue true) or as a user's
// (false). Dynamics does not support folder-level tracking for queues, so
// Add refuses mappings of a queue mailbox, and marking a mailbox that has
// mappings fails with an error wrapping ErrQueue.
func (r *Rules) SetQueue(mailbox string, queue bool) error {
	mb, err := checkMailbox(mailbox)
	if err != nil {
		return &Error{Op: "set queue", Mailbox: correlate.NormalizeAddress(mailbox), Err: err}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !queue {
		delete(r.queues, mb)
		return nil
	}
	if n := len(r.mailboxes[mb]); n > 0 {
		return &Error{Op: "set queue", Mailbox: mb,
			Err: fmt.Errorf("%w: remove its %d folder mappings first", ErrQueue, n)}
	}
	if r.queues == nil {
		r.queues = make(map[string]bool)
	}
	r.queues[mb] = true
	return nil
}

// checkMailbox returns the normalized mailbox, or an error wrapping
// ErrBadMapping.
func checkMailbox(mailbox string) (string, error) {
	mb := correlate.NormalizeAddress(mailbox)
	switch {
	case mb == "":
		return "", fmt.Errorf("%w: empty mailbox", ErrBadMapping)
	case len(mb) > MaxMailboxBytes:
		return "", fmt.Errorf("%w: mailbox longer than %d bytes", ErrBadMapping, MaxMailboxBytes)
	case strings.IndexFunc(mb, isHostile) >= 0:
		return "", fmt.Errorf("%w: control character in mailbox", ErrBadMapping)
	}
	return mb, nil
}

func checkRecord(rec correlate.Record) error {
	if (rec.Type == "") != (rec.ID == "") {
		return fmt.Errorf("%w: record %q needs both a type and an id", ErrBadMapping, rec.String())
	}
	return nil
}

// validate checks mp against cfg, without looking at other mappings, and
// returns it normalized.
func (c Config) validate(mp Mapping) (Mapping, error) {
	mb, err := checkMailbox(mp.Mailbox)
	if err != nil {
		return mp, err
	}
	mp.Mailbox = mb
	switch {
	case mp.FolderID == "":
		return mp, fmt.Errorf("%w: empty folder id", ErrBadMapping)
	case len(mp.FolderID) > MaxFolderIDBytes:
		return mp, fmt.Errorf("%w: folder id longer than %d bytes", ErrBadMapping, MaxFolderIDBytes)
	}
	if err := checkRecord(mp.Record); err != nil {
		return mp, err
	}
	err = c.CheckPath(mp.FolderPath)
	switch {
	case err == nil:
		mp.Disabled = false
	case errors.Is(err, ErrOutsideInbox) && mp.Disabled:
		// A rule saved after its folder moved out: keep it, disabled.
	default:
		return mp, err
	}
	return mp, nil
}

// Add adds a mapping. It fails, with an *Error naming the mailbox and folder,
// when the mailbox or folder id is missing or unusable (ErrBadMapping), the
// path is malformed (ErrBadPath) or not under Inbox (ErrOutsideInbox), the
// mailbox is a queue (ErrQueue) or already has Config.MaxPerMailbox
// mappings (ErrTooMany), or the folder is already mapped (ErrExists; use
// SetRecord or SetPath to change a mapping).
//
// Adding a mapping changes no tracked email: it files the email tracked
// from then on. Email tracked in the folder before it was mapped carries no
// folder key (the Indexer keys email only while its folder is mapped), so
// SetRecord and Apply do not reach it; relink it by hand if needed.
func (r *Rules) Add(mp Mapping) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addLocked("add", mp)
}

func (r *Rules) addLocked(op string, mp Mapping) error {
	nm, err := r.cfg.validate(mp)
	if err != nil {
		return &Error{Op: op, Mailbox: correlate.NormalizeAddress(mp.Mailbox), FolderID: mp.FolderID, Path: mp.FolderPath, Err: err}
	}
	fail := func(err error) error {
		return &Error{Op: op, Mailbox: nm.Mailbox, FolderID: nm.FolderID, Path: nm.FolderPath, Err: err}
	}
	if r.queues[nm.Mailbox] {
		return fail(ErrQueue)
	}
	fs := r.mailboxes[nm.Mailbox]
	if have, ok := fs[nm.FolderID]; ok {
		return fail(fmt.Errorf("%w as %s", ErrExists, have.Mapping))
	}
	if limit := r.cfg.maxPerMailbox(); len(fs) >= limit {
		return fail(fmt.Errorf("%w: the mailbox already has %d, the maximum", ErrTooMany, limit))
	}
	r.put(newRule(nm))
	return nil
}

// Remove removes the mapping of a folder. As in Dynamics, email already
// tracked through it stays tracked and linked; new email in the folder is no
// longer tracked by it. The error wraps ErrNotMapped when there is no such
// mapping.
func (r *Rules) Remove(mailbox, folderID string) error {
	mb := correlate.NormalizeAddress(mailbox)
	r.mu.Lock()
	defer r.mu.Unlock()
	rl := r.mailboxes[mb][folderID]
	if rl == nil {
		return &Error{Op: "remove", Mailbox: mb, FolderID: folderID, Err: ErrNotMapped}
	}
	r.del(rl)
	return nil
}

// SetPath records that a mapped folder was renamed or moved to path. The rule
// follows the folder id, so a rename keeps it. A folder moved outside Inbox
// keeps its mapping but disables the rule (Dynamics: "moving it outside Inbox
// disables the rule"): SetPath then stores the path and returns an *Error
// wrapping ErrDisabled and ErrOutsideInbox that says so. Moving the folder
// back under Inbox enables the rule again (whether Dynamics re-enables it is
// not documented). A malformed path (ErrBadPath) changes nothing; an
// unknown folder fails with ErrNotMapped.
func (r *Rules) SetPath(mailbox, folderID, path string) error {
	mb := correlate.NormalizeAddress(mailbox)
	fail := func(err error) error {
		return &Error{Op: "set path", Mailbox: mb, FolderID: folderID, Path: path, Err: err}
	}
	cerr := r.Config().CheckPath(path)
	if errors.Is(cerr, ErrBadPath) {
		return fail(cerr)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.mailboxes[mb][folderID]
	if old == nil {
		return fail(ErrNotMapped)
	}
	mp := old.Mapping
	mp.FolderPath = path
	mp.Disabled = cerr != nil
	r.put(newRule(mp))
	if cerr != nil {
		return fail(fmt.Errorf("%w: %w", ErrDisabled, cerr))
	}
	return nil
}

// setRecord changes the record of a mapped folder and returns the new rule.
func (r *Rules) setRecord(mailbox, folderID string, rec correlate.Record) (*rule, error) {
	mb := correlate.NormalizeAddress(mailbox)
	if err := checkRecord(rec); err != nil {
		return nil, &Error{Op: "set record", Mailbox: mb, FolderID: folderID, Err: err}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.mailboxes[mb][folderID]
	if old == nil {
		return nil, &Error{Op: "set record", Mailbox: mb, FolderID: folderID, Err: ErrNotMapped}
	}
	if old.Disabled {
		return nil, &Error{Op: "set record", Mailbox: mb, FolderID: folderID, Path: old.FolderPath,
			Err: fmt.Errorf("%w: the folder is outside Inbox", ErrDisabled)}
	}
	mp := old.Mapping
	mp.Record = rec
	rl := newRule(mp)
	r.put(rl)
	return rl, nil
}

// snapshot returns the enabled rules with a record, of mailbox or of every
// mailbox when mailbox is "".
func (r *Rules) snapshot(mailbox string) []*rule {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*rule
	add := func(fs map[string]*rule) {
		for _, rl := range fs {
			if !rl.Disabled && !rl.TrackOnly() {
				out = append(out, rl)
			}
		}
	}
	if mailbox == "" {
		out = make([]*rule, 0, len(r.byKey))
		for _, fs := range r.mailboxes {
			add(fs)
		}
	} else {
		add(r.mailboxes[correlate.NormalizeAddress(mailbox)])
	}
	return out
}
