package submit

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// RegardingField is the header field in which a client names the record a
// message is regarding, as "type:id" ("X-CRM-Regarding: incident:CAS-01042").
// The relay removes it before relaying.
const RegardingField = "X-CRM-Regarding"

// Defaults of Options.
const (
	DefaultMaxMessageBytes = 25 << 20 // 25 MiB
	DefaultMaxHeaderBytes  = 1 << 20  // 1 MiB, as correlate.ParseMessage
	DefaultMaxRecipients   = 100
	DefaultMaxConnections  = 100
	DefaultReadTimeout     = 10 * time.Minute
	DefaultWriteTimeout    = time.Minute
	DefaultLeaseTTL        = time.Minute
	// MaxAuthFailures is how many failed AUTH attempts a connection may
	// make before the relay closes it.
	MaxAuthFailures = 3
)

// KindAttempt is the key kind under which the relay indexes a tracked email
// with the relay attempt that stored it, so that an attempt cut short by a
// crash can be found and rolled back. The value is the attempt's id.
const KindAttempt = "submit.attempt"

// Options configures a Relay. Store, Upstream.Addr and Auth are required;
// zero values of the other fields mean the documented defaults.
type Options struct {
	// Store keeps the tracked emails, the token counters and the relay's
	// record of messages being sent.
	Store store.Store
	// Engine decides the record of a message that does not name one in
	// X-CRM-Regarding (the record of the tracked email it replies to) and
	// prepares what is tracked; its store must be Store. Give its
	// InReplyTo strategy the same IDKeys (mailcorrelate.Options.Header.IDKeys)
	// and its token strategy the same Format as Tokens. nil means
	// mailcorrelate.New(Store, …) with IDKeys and the Format of Tokens.
	Engine *correlate.Engine
	// Tokens issues the tracking tokens stamped on subjects; nil stamps
	// none (tokens off, as when Dynamics' maximumtrackingnumber is 0).
	Tokens *token.Generator
	// MaxSubjectLen is the longest subject, in UTF-16 code units, a token
	// is stamped within; 0 means token.DefaultMaxSubjectLen (255, Dynamics'
	// MaximumSubjectLengthOnMailServer).
	MaxSubjectLen int
	// IDKeys sign the Message-IDs the relay gives messages filed under a
	// record (header.NewMessageID); keys[0] signs. Empty means no signed
	// ids: messages keep their own Message-ID.
	IDKeys [][]byte
	// Domain is the relay's host name: in its greeting and replies, and
	// the domain of the Message-IDs it writes. "" means the host name.
	Domain string

	// Upstream is the submission server mail is relayed to.
	Upstream Upstream
	// Auth checks the clients' credentials (AUTH PLAIN). Every client
	// must authenticate; the relay offers AUTH over TLS (after STARTTLS)
	// and, without TLS, only to clients on the loopback interface.
	Auth Authenticator
	// TLSConfig enables STARTTLS for clients; nil means no TLS, so only
	// loopback clients can authenticate.
	TLSConfig *tls.Config

	// MaxMessageBytes bounds a message (SIZE, and the data read): beyond
	// it the client gets 552. 0 means DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// MaxHeaderBytes bounds a message's header block; 0 means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxRecipients bounds the RCPT commands of a message (452 beyond);
	// 0 means DefaultMaxRecipients.
	MaxRecipients int
	// MaxConnections bounds the clients served at once; a connection
	// beyond it is answered 421 and closed. 0 means DefaultMaxConnections.
	MaxConnections int
	// ReadTimeout bounds the wait for a client's next command and for a
	// message's content; WriteTimeout a reply. 0 means DefaultReadTimeout
	// and DefaultWriteTimeout.
	ReadTimeout, WriteTimeout time.Duration

	// SkipUnregarded relays mail that names no record and replies to no
	// tracked email as it is: no token, no new Message-ID, not tracked. By
	// default such mail is tracked without a record (as Dynamics tracks
	// every email sent from the CRM), so that replies to it correlate with
	// it and follow it when a person later sets its regarding record.
	SkipUnregarded bool

	// Instance names this relay among the relays sharing Store; it holds
	// the lease "submit/INSTANCE" while it serves, and rolls back at
	// start-up the sends its previous run left unfinished. "" means the
	// host name. A run that was killed holds the lease until it expires:
	// the next run waits for that (LeaseTTL at most) before it serves.
	Instance string
	// LeaseTTL is how long the lease lasts without renewal (it is renewed
	// every third of it); 0 means DefaultLeaseTTL.
	LeaseTTL time.Duration

	// Logger receives one line per message and every failure; nil means
	// slog.Default(). Passwords never reach it.
	Logger *slog.Logger
}

// A Relay is an SMTP submission relay that files outgoing mail under CRM
// records: see the package documentation. It is safe for concurrent use;
// Serve runs it.
type Relay struct {
	o        Options
	st       store.Store
	engine   *correlate.Engine
	format   token.Format
	log      *slog.Logger
	leaseKey string
	holder   string
	lease    atomic.Pointer[store.Lease]
	served   atomic.Bool

	mu       sync.Mutex
	inflight map[string]bool // Message-IDs being relayed, so a duplicate waits
	cleanup  []cleanup       // pending rows to clear or roll back, retried
	busy     int             // messages being received or sent
	closing  bool            // Serve is stopping: no new message starts
	idle     *sync.Cond      // signalled when busy drops to 0

	// Group commit of the store writes of messages (see write): while an
	// Apply of them is under way (writing), later ones wait in queue for
	// the next.
	wmu     sync.Mutex
	queue   []*write
	writing bool

	// stopped is closed when the relay lost its lease and must stop.
	stopOnce sync.Once
	stopped  chan struct{}
	stopErr  error
}

// cleanup is a pending row whose clearing (commit) or rollback failed.
type cleanup struct {
	attempt  string
	rollback bool
}

// New returns a Relay configured by o, or an error naming every option that
// is wrong.
func New(o Options) (*Relay, error) {
	var errs []error
	if o.Store == nil {
		//lint:ignore ST1005 the message begins with the name of the Options field it is about
		errs = append(errs, errors.New("Store is nil"))
	}
	if o.Auth == nil {
		errs = append(errs, errors.New("Auth is nil"))
	}
	if o.Upstream.Addr == "" {
		errs = append(errs, errors.New("Upstream.Addr is empty"))
	}
	if o.Upstream.TLS < StartTLS || o.Upstream.TLS > NoTLS {
		errs = append(errs, fmt.Errorf("Upstream.TLS %d is not a TLSMode", o.Upstream.TLS))
	}
	if len(o.IDKeys) > 0 && len(o.IDKeys[0]) < header.MinIDKeyLen {
		errs = append(errs, fmt.Errorf("IDKeys[0] has %d bytes, fewer than %d", len(o.IDKeys[0]), header.MinIDKeyLen))
	}
	if o.MaxMessageBytes < 0 || o.MaxHeaderBytes < 0 || o.MaxRecipients < 0 || o.MaxConnections < 0 ||
		o.ReadTimeout < 0 || o.WriteTimeout < 0 || o.LeaseTTL < 0 || o.MaxSubjectLen < 0 {
		errs = append(errs, errors.New("a limit is negative"))
	}
	host, _ := os.Hostname()
	if o.Domain == "" {
		o.Domain = host
	}
	if o.Domain == "" {
		o.Domain = "localhost"
	}
	if strings.ContainsAny(o.Domain, " \t\r\n<>@") {
		//lint:ignore ST1005 the message begins with the name of the Options field it is about
		errs = append(errs, fmt.Errorf("Domain %q is not a host name", o.Domain))
	}
	if o.Instance == "" {
		o.Instance = host
	}
	if o.Instance == "" || len(o.Instance) > 200 || strings.ContainsAny(o.Instance, "/ \t\r\n") {
		//lint:ignore ST1005 the message begins with the name of the Options field it is about
		errs = append(errs, fmt.Errorf("Instance %.60q: want 1–200 bytes without slashes or white space", o.Instance))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("submit: options: %w", errors.Join(errs...))
	}
	defaults(&o)
	r := &Relay{o: o, st: o.Store, engine: o.Engine, log: o.Logger, inflight: map[string]bool{}, stopped: make(chan struct{})}
	r.idle = sync.NewCond(&r.mu)
	if o.Tokens != nil {
		r.format = o.Tokens.Format()
	}
	if r.engine == nil {
		opts := &mailcorrelate.Options{Token: r.format}
		opts.Header.IDKeys = o.IDKeys
		e, err := mailcorrelate.New(o.Store, opts)
		if err != nil {
			return nil, fmt.Errorf("submit: engine: %w", err)
		}
		r.engine = e
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.leaseKey = "submit/" + o.Instance
	r.holder = o.Instance + "/" + randomID()
	return r, nil
}

func defaults(o *Options) {
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	set(&o.MaxHeaderBytes, DefaultMaxHeaderBytes)
	set(&o.MaxRecipients, DefaultMaxRecipients)
	set(&o.MaxConnections, DefaultMaxConnections)
	set(&o.MaxSubjectLen, token.DefaultMaxSubjectLen)
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
}

// randomID returns 16 random bytes in lower-case base32.
func randomID() string {
	var b [10]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Serve takes the relay's lease, rolls back the sends a previous run of the
// same Instance left unfinished, and serves SMTP on l until ctx is done (it
// then stops accepting, waits up to a minute for the messages being sent,
// closes the connections and returns nil) or the relay loses its lease or l
// fails (it returns the error). It closes l. A Relay serves once: after
// Serve has served and returned, make a new Relay.
func (r *Relay) Serve(ctx context.Context, l net.Listener) error {
	if r.served.Load() {
		l.Close()
		return errors.New("submit: this Relay has served already; make a new one")
	}
	lease, err := r.acquire(ctx)
	if err != nil {
		l.Close()
		return err
	}
	r.lease.Store(&lease)
	r.served.Store(true)
	defer func() {
		if l := r.lease.Load(); l != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			r.st.Release(rctx, *l)
			cancel()
		}
	}()
	n, err := r.rollBackPending(ctx)
	if err != nil {
		l.Close()
		return err
	}
	if n > 0 {
		r.log.Warn("submit: rolled back sends left unfinished by the previous run", "instance", r.o.Instance, "emails", n)
	}

	s := smtp.NewServer(backend{r})
	s.Domain = r.o.Domain
	s.MaxMessageBytes = r.o.MaxMessageBytes
	s.MaxRecipients = r.o.MaxRecipients
	s.ReadTimeout = r.o.ReadTimeout
	s.WriteTimeout = r.o.WriteTimeout
	s.TLSConfig = r.o.TLSConfig
	s.EnableSMTPUTF8 = true
	// AUTH is offered per connection (TLS or loopback), by the session.
	s.AllowInsecureAuth = true
	s.ErrorLog = slogLogger{r.log}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.keep(ctx)
	}()
	done := make(chan error, 1)
	go func() { done <- s.Serve(newLimitListener(l, r.o.MaxConnections, r.o.Domain)) }()

	var serveErr error
	select {
	case serveErr = <-done:
	case <-ctx.Done():
	case <-r.stopped:
		serveErr = r.stopErr
	}
	// Stop accepting, let the messages being sent finish (a minute at
	// most), then drop every connection: idle clients reconnect later.
	l.Close()
	r.drain(time.Minute)
	s.Close()
	cancel()
	wg.Wait()
	r.drainCleanup(context.WithoutCancel(ctx))
	if serveErr != nil && !errors.Is(serveErr, net.ErrClosed) {
		return serveErr
	}
	return nil
}

// acquire takes the instance's lease. A run that was killed leaves its
// lease behind until it expires, so a lease held by another holder is
// waited for, one LeaseTTL and a half at most: a dead run's lease expires
// by then, a live relay's does not (it renews it), and that is an error.
func (r *Relay) acquire(ctx context.Context) (store.Lease, error) {
	deadline := time.Now().Add(r.o.LeaseTTL * 3 / 2)
	logged := false
	for {
		lease, err := r.st.Acquire(ctx, r.leaseKey, r.holder, r.o.LeaseTTL)
		switch {
		case err == nil:
			return lease, nil
		case !errors.Is(err, store.ErrLeaseHeld):
			return store.Lease{}, fmt.Errorf("submit: lease: %w", err)
		case time.Now().After(deadline):
			return store.Lease{}, fmt.Errorf("submit: another relay is running as instance %q: %w", r.o.Instance, err)
		}
		if !logged {
			r.log.Warn("submit: waiting for the lease of this instance: a previous run that did not stop cleanly holds it until it expires, or another relay runs as the same instance",
				"instance", r.o.Instance, "at_most", (r.o.LeaseTTL * 3 / 2).String())
			logged = true
		}
		select {
		case <-ctx.Done():
			return store.Lease{}, fmt.Errorf("submit: lease: %w", ctx.Err())
		case <-time.After(min(time.Second, r.o.LeaseTTL/10)):
		}
	}
}

// keep renews the lease every third of its TTL and retries failed
// cleanups, until ctx is done. Losing the lease stops the relay.
func (r *Relay) keep(ctx context.Context) {
	t := time.NewTicker(r.o.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		l, err := r.st.Acquire(ctx, r.leaseKey, r.holder, r.o.LeaseTTL)
		switch {
		case err == nil && l.Token != r.lease.Load().Token:
			// The lease expired and was free again: another run may have
			// rolled back this one's sends in between.
			err = fmt.Errorf("%w: lease of %q expired and was taken again", store.ErrLeaseLost, r.leaseKey)
			fallthrough
		case errors.Is(err, store.ErrLeaseHeld) || errors.Is(err, store.ErrLeaseLost):
			r.stop(fmt.Errorf("submit: lost the lease of instance %q: %w", r.o.Instance, err))
			return
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			r.log.Error("submit: renewing the lease failed; retrying", "instance", r.o.Instance, "err", err)
			continue
		}
		r.lease.Store(&l)
		r.drainCleanup(ctx)
	}
}

func (r *Relay) stop(err error) {
	r.stopOnce.Do(func() {
		r.stopErr = err
		r.log.Error(err.Error())
		close(r.stopped)
	})
}

// pendingPrefix is the prefix of the names of this instance's pending rows.
func (r *Relay) pendingPrefix() string { return "submit/pending/" + r.o.Instance + "/" }

// pendingValue is the value of a pending row, for people reading the store.
type pendingValue struct {
	MessageID string    `json:"message_id"`
	User      string    `json:"user"`
	Time      time.Time `json:"time"`
}

// rollBackPending rolls back every pending row of this instance: the tracked emails
// their attempts stored are deleted, then the rows. It returns how many
// emails it deleted.
func (r *Relay) rollBackPending(ctx context.Context) (int, error) {
	states, err := r.st.States(ctx, r.pendingPrefix())
	if err != nil {
		return 0, fmt.Errorf("submit: recover: %w", err)
	}
	n := 0
	for _, s := range states {
		k, err := r.rollback(ctx, strings.TrimPrefix(s.Name, r.pendingPrefix()))
		n += k
		if err != nil {
			return n, fmt.Errorf("submit: recover: %w", err)
		}
	}
	return n, nil
}

// rollback deletes the tracked emails stored by attempt, then its pending
// row; it returns how many emails it deleted.
func (r *Relay) rollback(ctx context.Context, attempt string) (int, error) {
	ts, err := r.st.Lookup(ctx, correlate.Key{Kind: KindAttempt, Value: attempt}, correlate.Query{Limit: -1})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range ts {
		if err := r.st.Delete(ctx, t.ID); err != nil && !errors.Is(err, correlate.ErrNotFound) {
			return n, err
		}
		n++
	}
	return n, r.clearPending(ctx, attempt)
}

// clearPending deletes the pending row of attempt. Clearing rows is not
// fenced by the lease (only tracking is): a relay that lost its lease may
// still drop rows of its own, which the run that took the lease over
// deletes as well.
func (r *Relay) clearPending(ctx context.Context, attempt string) error {
	_, err := r.st.Apply(ctx, store.Batch{States: []store.State{{Name: r.pendingPrefix() + attempt}}})
	return err
}

// finish commits (clears the pending row of) or rolls back an attempt; on
// failure it queues the work for the next renewal tick. A commit is a
// write (see write): it shares its Apply with the writes of the other
// messages under way, and returns once the row is gone, so the client gets
// its 250 only then.
func (r *Relay) finish(ctx context.Context, attempt string, rollback bool) {
	var err error
	if rollback {
		_, err = r.rollback(ctx, attempt)
	} else {
		err = r.write(ctx, &write{state: store.State{Name: r.pendingPrefix() + attempt}}).err
	}
	if err != nil {
		r.log.Error("submit: store update after relaying failed; retrying", "attempt", attempt, "rollback", rollback, "err", err)
		r.mu.Lock()
		r.cleanup = append(r.cleanup, cleanup{attempt: attempt, rollback: rollback})
		r.mu.Unlock()
	}
}

// drainCleanup retries the queued commits and rollbacks.
func (r *Relay) drainCleanup(ctx context.Context) {
	r.mu.Lock()
	todo := r.cleanup
	r.cleanup = nil
	r.mu.Unlock()
	for _, c := range todo {
		var err error
		if c.rollback {
			_, err = r.rollback(ctx, c.attempt)
		} else {
			err = r.clearPending(ctx, c.attempt)
		}
		if err != nil {
			r.mu.Lock()
			r.cleanup = append(r.cleanup, c)
			r.mu.Unlock()
		}
	}
}

// enter counts a message in; false when the relay is stopping.
func (r *Relay) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	r.busy++
	return true
}

// isClosing reports whether Serve is stopping.
func (r *Relay) isClosing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closing
}

// leave counts a message out.
func (r *Relay) leave() {
	r.mu.Lock()
	r.busy--
	if r.busy == 0 {
		r.idle.Broadcast()
	}
	r.mu.Unlock()
}

// drain stops new messages and waits up to max for the ones under way.
func (r *Relay) drain(max time.Duration) {
	t := time.AfterFunc(max, func() {
		r.mu.Lock()
		r.idle.Broadcast()
		r.mu.Unlock()
	})
	defer t.Stop()
	deadline := time.Now().Add(max)
	r.mu.Lock()
	r.closing = true
	for r.busy > 0 && time.Now().Before(deadline) {
		r.idle.Wait()
	}
	r.mu.Unlock()
}

// claim marks a Message-ID as being relayed; false when it already is.
func (r *Relay) claim(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight[id] {
		return false
	}
	r.inflight[id] = true
	return true
}

func (r *Relay) unclaim(id string) {
	r.mu.Lock()
	delete(r.inflight, id)
	r.mu.Unlock()
}

// track stores p's email with a pending row for a new attempt, atomically
// (a write, fenced by the lease), and returns the attempt (to commit or
// roll back), the stored email, and whether it was stored already.
func (r *Relay) track(ctx context.Context, p *plan, user string) (string, correlate.Tracked, bool, error) {
	attempt := randomID()
	keys := append(p.keys, correlate.Key{Kind: KindAttempt, Value: attempt})
	val, _ := json.Marshal(pendingValue{MessageID: p.tracked.MessageID, User: user, Time: time.Now().UTC()})
	res := r.write(ctx, &write{
		put:   &store.Entry{Tracked: p.tracked, Keys: keys},
		state: store.State{Name: r.pendingPrefix() + attempt, Value: val},
	})
	if res.err != nil {
		return attempt, correlate.Tracked{}, false, res.err
	}
	return attempt, res.tracked, res.existing, nil
}

// slogLogger adapts go-smtp's logger to slog.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) { s.l.Warn("submit: " + fmt.Sprintf(format, v...)) }
func (s slogLogger) Println(v ...any)               { s.l.Warn("submit: " + strings.TrimSpace(fmt.Sprintln(v...))) }
