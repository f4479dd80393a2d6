package imapsync

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// A Syncer synchronizes mailboxes: it reads their Inbox, tracked folders
// and (when asked) Sent folder over IMAP, or their maildrop over POP3,
// correlates every new message with its engine and files it in its store,
// writing each folder's cursor (each POP3 message's UIDL) in the same
// transaction as the emails it covers.
type Syncer struct {
	eng       *correlate.Engine
	st        store.Store
	o         Options
	rules     *folder.Rules
	mailboxes []*mailbox
	holder    string
	sem       chan struct{}
}

// mailbox is one Mailbox being synchronized.
type mailbox struct {
	cfg   Mailbox
	addr  string // normalized address
	ep    endpoint
	user  string
	rules []folder.Mapping // configured rules, Mailbox normalized

	mu     sync.Mutex
	status Status
	lease  store.Lease
	held   bool
}

// New returns a Syncer that correlates with engine and writes to st, which
// must be the engine's store (or share its data). It checks every
// mailbox: a URL it can use, credentials, at most 25 folder rules each
// under Inbox (a 26th is refused with an error wrapping folder.ErrTooMany,
// one outside Inbox with folder.ErrOutsideInbox).
func New(engine *correlate.Engine, st store.Store, opts *Options) (*Syncer, error) {
	if engine == nil || st == nil {
		return nil, errors.New("imapsync: New needs an engine and a store")
	}
	o := opts.withDefaults()
	s := &Syncer{eng: engine, st: st, o: o, rules: o.Rules, sem: make(chan struct{}, o.Workers)}
	if s.rules == nil {
		s.rules = rulesOf(engine.Chain())
	}
	s.holder = o.Holder
	if s.holder == "" {
		host, _ := os.Hostname()
		var b [4]byte
		crand.Read(b[:])
		s.holder = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	seen := map[string]bool{}
	for i := range o.Mailboxes {
		mb, err := s.newMailbox(o.Mailboxes[i])
		if err != nil {
			return nil, err
		}
		if seen[mb.addr] {
			return nil, fmt.Errorf("imapsync: mailbox %s is listed twice", mb.addr)
		}
		seen[mb.addr] = true
		s.mailboxes = append(s.mailboxes, mb)
	}
	return s, nil
}

// rulesOf finds the rules of the folder correlator in a chain.
func rulesOf(ch *correlate.Chain) *folder.Rules {
	var find func(c any) *folder.Rules
	find = func(c any) *folder.Rules {
		switch x := c.(type) {
		case *folder.Correlator:
			return x.Rules()
		case *correlate.Chain:
			for _, y := range x.Correlators {
				if r := find(y); r != nil {
					return r
				}
			}
		case interface{ Unwrap() correlate.Correlator }:
			return find(x.Unwrap())
		}
		return nil
	}
	if ch == nil {
		return nil
	}
	return find(ch)
}

func (s *Syncer) newMailbox(cfg Mailbox) (*mailbox, error) {
	addr := correlate.NormalizeAddress(cfg.Address)
	fail := func(err error) (*mailbox, error) {
		return nil, &Error{Mailbox: addr, Cause: CauseConfig, Permanent: true, Err: err}
	}
	if addr == "" || !strings.Contains(addr, "@") {
		return fail(fmt.Errorf("address %q is not an email address", cfg.Address))
	}
	ep, err := parseURL(cfg.URL)
	if err != nil {
		return fail(err)
	}
	mb := &mailbox{cfg: cfg, addr: addr, ep: ep, user: cfg.Username}
	if mb.user == "" {
		mb.user = ep.user
	}
	if mb.user == "" {
		mb.user = cfg.Address
	}
	if cfg.Password == "" && cfg.TokenSource == nil {
		return fail(errors.New("no Password and no TokenSource"))
	}
	switch {
	case ep.pop3 && len(cfg.Folders) > 0:
		return fail(errors.New("POP3 has no folders: folder rules need an IMAP server (imap:// or imaps://)"))
	case ep.pop3 && cfg.Sent:
		return fail(errors.New("POP3 reads only the Inbox: tracking Sent needs an IMAP server (imap:// or imaps://)"))
	case !ep.pop3 && cfg.DeleteFromServer:
		return fail(errors.New("DeleteFromServer is for POP3 mailboxes: the IMAP sync never deletes anything"))
	}
	if len(cfg.Folders) > 0 {
		if s.rules == nil {
			return fail(errors.New("folder rules given, but the engine has no folder correlator (set Options.Rules)"))
		}
		// Check the rules as the folder package does, on a scratch set
		// with the same configuration: under Inbox, at most 25, no queue.
		cfgR := s.rules.Config()
		scratch, err := folder.NewRules(&cfgR)
		if err != nil {
			return fail(err)
		}
		if s.rules.IsQueue(addr) {
			scratch.SetQueue(addr, true)
		}
		for _, mp := range cfg.Folders {
			if mp.Mailbox != "" && correlate.NormalizeAddress(mp.Mailbox) != addr {
				return fail(fmt.Errorf("folder rule %q names another mailbox, %s", mp.FolderPath, mp.Mailbox))
			}
			mp.Mailbox = addr
			mp.Disabled = false
			probe := mp
			probe.FolderID = mp.FolderPath // one rule per path until bound
			if err := scratch.Add(probe); err != nil {
				return fail(err)
			}
			mb.rules = append(mb.rules, mp)
		}
	}
	mb.status = Status{Mailbox: addr, State: StateStarting}
	return mb, nil
}

// Holder returns the name this Syncer holds leases under.
func (s *Syncer) Holder() string { return s.holder }

// Status returns the status of every mailbox, in the order of
// Options.Mailboxes.
func (s *Syncer) Status() []Status {
	out := make([]Status, len(s.mailboxes))
	for i, mb := range s.mailboxes {
		mb.mu.Lock()
		out[i] = mb.status.clone()
		mb.mu.Unlock()
	}
	return out
}

func (mb *mailbox) update(f func(st *Status)) {
	mb.mu.Lock()
	f(&mb.status)
	mb.mu.Unlock()
}

func (mb *mailbox) fail(now time.Time, e *Error) {
	mb.update(func(st *Status) {
		st.LastError = e.Error()
		st.LastErrorTime = now
		st.Cause = e.Cause
		st.Failures++
		st.Counts.Errors++
		if e.Permanent {
			st.State = StateStopped
		} else {
			st.State = StateRetrying
		}
	})
}

// leaseName is the name of a mailbox's lease: under the prefix of its
// sync state.
func (mb *mailbox) leaseName() string { return mb.statePrefix() + mb.addr }

// statePrefix is StatePrefix, or POP3StatePrefix for a POP3 mailbox.
func (mb *mailbox) statePrefix() string {
	if mb.ep.pop3 {
		return POP3StatePrefix
	}
	return StatePrefix
}

// A source is one session with a mailbox's server: IMAP (imap.go,
// pass.go) or POP3 (pop3.go). The rest — the per-message pipeline,
// leases, workers, backoff, Status — is the same for both.
type source interface {
	// pass reads the mailbox's new mail once; its writes are committed
	// when it returns.
	pass(ctx context.Context, s *Syncer, mb *mailbox) error
	// wait returns when there may be new mail (IDLE, a poll), or with the
	// error that ended the session, or ctx's.
	wait(ctx context.Context, o *Options) error
	// close ends the session.
	close()
}

// connect opens a session with mb's server.
func (s *Syncer) connect(ctx context.Context, mb *mailbox) (source, error) {
	if mb.ep.pop3 {
		return connectPOP3(ctx, mb, &s.o)
	}
	ic, err := connect(ctx, mb, &s.o)
	if err != nil {
		return nil, err
	}
	return &imapSource{ic: ic}, nil
}

// imapSource is an IMAP session: one connection for every pass, IDLE (or
// a NOOP poll) in between.
type imapSource struct {
	ic    *imapConn
	inbox folderStatus // Inbox as the last pass saw it
}

func (is *imapSource) pass(ctx context.Context, s *Syncer, mb *mailbox) error {
	inbox, err := s.pass(ctx, mb, is.ic)
	is.inbox = inbox
	return err
}

func (is *imapSource) wait(ctx context.Context, o *Options) error {
	return is.ic.wait(ctx, o.PollInterval, !o.NoIdle, o.IdleRestart, is.inbox)
}

func (is *imapSource) close() { is.ic.close() }

// currentLease returns the lease to fence batches with.
func (mb *mailbox) currentLease() *store.Lease {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if !mb.held {
		return nil
	}
	l := mb.lease
	return &l
}

// SyncOnce makes one pass over every mailbox (at most Options.Workers at
// once) and returns when all are done: for cron jobs and tests. A mailbox
// whose lease another worker holds is left to it (its Status says so). The
// error joins the failures of the mailboxes that failed; Status has each
// one's cause.
func (s *Syncer) SyncOnce(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(s.mailboxes))
	for i, mb := range s.mailboxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.once(ctx, mb)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Syncer) once(ctx context.Context, mb *mailbox) error {
	l, err := s.st.Acquire(ctx, mb.leaseName(), s.holder, s.o.LeaseTTL)
	if errors.Is(err, store.ErrLeaseHeld) {
		mb.update(func(st *Status) { st.State = StateLeased })
		return nil
	}
	if err != nil {
		e := &Error{Mailbox: mb.addr, Cause: CauseStore, Err: err}
		mb.fail(s.o.Now(), e)
		return e
	}
	mb.setLease(l)
	defer s.release(mb)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.renew(lctx, cancel, mb)
	if err := s.acquireWorker(lctx); err != nil {
		return err
	}
	defer s.releaseWorker()
	src, err := s.connect(lctx, mb)
	if err != nil {
		e := classify(mb.addr, err)
		mb.fail(s.o.Now(), e)
		return e
	}
	defer src.close()
	if err := src.pass(lctx, s, mb); err != nil {
		if ctx.Err() == nil && lctx.Err() != nil {
			// renew cancelled the pass: the lease was lost.
			err = &Error{Cause: CauseLease, Err: fmt.Errorf("the lease expired during the pass: %w", err)}
		}
		e := classify(mb.addr, err)
		mb.fail(s.o.Now(), e)
		return e
	}
	mb.update(func(st *Status) {
		if st.State != StateStopped {
			st.State = StateDone
		}
	})
	return nil
}

func (mb *mailbox) setLease(l store.Lease) {
	mb.mu.Lock()
	mb.lease, mb.held = l, true
	mb.status.Holder = l.Holder
	mb.mu.Unlock()
}

// release gives the mailbox's lease up, so another worker may take it at
// once.
func (s *Syncer) release(mb *mailbox) {
	l := mb.currentLease()
	mb.mu.Lock()
	mb.held = false
	mb.mu.Unlock()
	if l != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.st.Release(ctx, *l)
	}
}

// renew keeps the mailbox's lease until ctx ends; when it is lost it
// cancels the session (lost), so the mailbox is left to its new holder.
func (s *Syncer) renew(ctx context.Context, lost context.CancelFunc, mb *mailbox) {
	t := time.NewTicker(s.o.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur := mb.currentLease()
		if cur == nil {
			return
		}
		l, err := s.st.Acquire(ctx, mb.leaseName(), s.holder, s.o.LeaseTTL)
		switch {
		case err == nil && l.Token == cur.Token:
			mb.setLease(l)
		case err == nil:
			// We lost it in between and took it again: batches fenced by
			// the old token are refused, so start over with the new one.
			mb.setLease(l)
			lost()
			return
		case errors.Is(err, store.ErrLeaseHeld):
			mb.mu.Lock()
			mb.held = false
			mb.mu.Unlock()
			lost()
			return
		case ctx.Err() != nil:
			return
		default:
			if s.o.Now().After(cur.Until) {
				lost()
				return
			}
		}
	}
}

func (s *Syncer) acquireWorker(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Syncer) releaseWorker() { <-s.sem }

// Run synchronizes every mailbox until ctx ends: each mailbox is taken
// when its lease is free, synchronized (a pass, then IDLE or a poll, then
// a pass …), reconnected with exponential backoff and jitter after a
// transient failure, and stopped with a status after a permanent one (the
// others go on). Run returns ctx's error when ctx ends, or nil when every
// mailbox stopped.
func (s *Syncer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, mb := range s.mailboxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.runMailbox(ctx, mb)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func (s *Syncer) runMailbox(ctx context.Context, mb *mailbox) {
	failures := 0
	for ctx.Err() == nil {
		l, err := s.st.Acquire(ctx, mb.leaseName(), s.holder, s.o.LeaseTTL)
		if errors.Is(err, store.ErrLeaseHeld) {
			mb.update(func(st *Status) { st.State = StateLeased })
			sleep(ctx, jitter(s.o.LeaseTTL/3))
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			mb.fail(s.o.Now(), &Error{Mailbox: mb.addr, Cause: CauseStore, Err: err})
			sleep(ctx, s.backoff(failures))
			continue
		}
		failures = 0
		mb.setLease(l)
		lctx, cancel := context.WithCancel(ctx)
		go s.renew(lctx, cancel, mb)
		err = s.session(lctx, mb)
		cancel()
		s.release(mb)
		if IsPermanent(err) {
			return
		}
		if ctx.Err() == nil {
			// The lease was lost: someone else syncs the mailbox now.
			mb.update(func(st *Status) {
				st.State = StateLeased
				st.notice(s.o.Now(), "lease lost to another worker")
			})
			sleep(ctx, jitter(s.o.LeaseTTL/3))
		}
	}
	mb.update(func(st *Status) {
		if st.State != StateStopped || st.Cause == "" {
			st.State = StateStopped
		}
	})
}

// session syncs a mailbox while its lease is held (until ctx ends):
// connect, pass, wait, pass … reconnecting after transient failures. It
// returns the permanent error that stopped the mailbox, or ctx's error.
func (s *Syncer) session(ctx context.Context, mb *mailbox) error {
	failures := 0
	for ctx.Err() == nil {
		src, err := s.connect(ctx, mb)
		if err == nil {
			err = s.connected(ctx, mb, src, &failures)
			src.close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e := classify(mb.addr, err)
		mb.fail(s.o.Now(), e)
		if e.Permanent {
			return e
		}
		if e.Cause == CauseLease {
			return e
		}
		failures++
		sleep(ctx, s.backoff(failures))
	}
	return ctx.Err()
}

// connected runs passes and waits on one session until an error.
func (s *Syncer) connected(ctx context.Context, mb *mailbox, src source, failures *int) error {
	for {
		if err := s.acquireWorker(ctx); err != nil {
			return err
		}
		err := src.pass(ctx, s, mb)
		s.releaseWorker()
		if err != nil {
			return err
		}
		*failures = 0
		mb.update(func(st *Status) { st.State = StateIdle; st.Failures = 0 })
		if err := src.wait(ctx, &s.o); err != nil {
			return err
		}
	}
}

// backoff returns the wait before retry n (1, 2, …): MinBackoff doubled
// n-1 times, at most MaxBackoff, with ±25% jitter so that many mailboxes
// of one failed server do not reconnect in step.
func (s *Syncer) backoff(n int) time.Duration {
	d := s.o.MinBackoff
	for i := 1; i < n && d < s.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.o.MaxBackoff)
	return jitter(d)
}

// jitter returns d ± 25%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	q := int64(d) / 4
	if q == 0 {
		return d
	}
	return time.Duration(int64(d) - q + rand.Int64N(2*q+1))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// folderList returns a copy sorted for display.
func sortedFolders(fs []FolderStatus) []FolderStatus {
	out := slices.Clone(fs)
	slices.SortFunc(out, func(a, b FolderStatus) int { return strings.Compare(a.Role+a.Path, b.Role+b.Path) })
	return out
}
