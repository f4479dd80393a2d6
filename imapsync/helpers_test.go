package imapsync

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/internal/imapfake"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// mail builds a message: id, date, subject and the id it replies to
// ("" for none).
type mail struct {
	id, inReplyTo, subject, from, to string
	date                             time.Time
	extra                            string // more header lines, each ending in \r\n
	body                             string
}

func (m mail) raw() []byte {
	var b strings.Builder
	from := m.from
	if from == "" {
		from = "Customer <customer@contoso.example>"
	}
	to := m.to
	if to == "" {
		to = "support@fabrikam.example"
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n", from, to, m.subject, m.date.UTC().Format(time.RFC1123Z))
	if m.id != "" {
		fmt.Fprintf(&b, "Message-ID: <%s>\r\n", m.id)
	}
	if m.inReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\nReferences: <%s>\r\n", m.inReplyTo, m.inReplyTo)
	}
	b.WriteString(m.extra)
	body := m.body
	if body == "" {
		body = "Hello,\r\n\r\nsee above.\r\n"
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body)
	return []byte(b.String())
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const testAddr = "support@fabrikam.example"

// world is a fake server, a store, an engine and its folder rules.
type world struct {
	t      *testing.T
	srv    *imapfake.Server
	st     *memstore.Store
	rules  *folder.Rules
	eng    *correlate.Engine
	mu     sync.Mutex
	events []Event
	known  map[string]correlate.Record
}

// newWorld returns a world over the in-process IMAP server, with the user
// "support" (password "secret").
func newWorld(t *testing.T) *world {
	t.Helper()
	srv, err := imapfake.Start()
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	srv.AddUser("support", "secret")
	w := serverlessWorld(t)
	w.srv = srv
	return w
}

// serverlessWorld returns a world without its server: a store, folder
// rules, and an engine over both.
func serverlessWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, st: memstore.New(), rules: &folder.Rules{}, known: map[string]correlate.Record{}}
	var err error
	w.eng, err = mailcorrelate.New(w.st, &mailcorrelate.Options{Folders: w.rules})
	require.NoError(t, err)
	return w
}

func (w *world) url(user string) string { return "imap://" + user + "@" + w.srv.Addr }

func (w *world) mailbox() Mailbox {
	return Mailbox{Address: testAddr, URL: w.url("support"), Password: "secret"}
}

func (w *world) options(mbs ...Mailbox) *Options {
	return &Options{
		Mailboxes: mbs,
		Known: func(_ context.Context, m *correlate.Message) (correlate.Record, bool) {
			w.mu.Lock()
			defer w.mu.Unlock()
			r, ok := w.known[m.MessageID]
			return r, ok
		},
		OnMessage: func(ev Event) {
			w.mu.Lock()
			w.events = append(w.events, ev)
			w.mu.Unlock()
		},
		MinBackoff:   20 * time.Millisecond,
		MaxBackoff:   200 * time.Millisecond,
		PollInterval: time.Hour,
		LeaseTTL:     3 * time.Second,
		Timeout:      10 * time.Second,
	}
}

func (w *world) syncer(o *Options) *Syncer {
	w.t.Helper()
	s, err := New(w.eng, w.st, o)
	require.NoError(w.t, err)
	return s
}

func (w *world) append(folder string, m mail) uint32 {
	w.t.Helper()
	uid, err := w.srv.Append("support", folder, m.date, m.raw())
	require.NoError(w.t, err)
	return uid
}

func (w *world) tracked(id string) (correlate.Tracked, bool) {
	t, err := w.eng.Lookup(context.Background(), id)
	if err != nil {
		return correlate.Tracked{}, false
	}
	return t, true
}

// ledgerOf returns every tracked email's Message-ID and record.
func ledgerOf(t *testing.T, s store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	var after int64
	for {
		page, err := s.Scan(context.Background(), after, 500)
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		for _, e := range page {
			_, dup := out[e.MessageID]
			require.False(t, dup, "message %s stored twice", e.MessageID)
			out[e.MessageID] = e.Record.String()
			after = e.ID
		}
	}
}

func (w *world) eventsCopy() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Event(nil), w.events...)
}

// runFor runs s in the background for at most limit. The function it
// returns stops the run and waits for it to end; it is called when the
// test ends too, so that a test failing half way leaves no sync running.
func runFor(t *testing.T, s *Syncer, limit time.Duration) (stop func()) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually waits until cond holds, failing after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not within %v: %s", d, what)
}

func statusOf(s *Syncer, addr string) Status {
	for _, st := range s.Status() {
		if st.Mailbox == addr {
			return st
		}
	}
	return Status{}
}

// conversation appends a customer's email (known: filed under rec in the
// CRM) and n replies to it in Inbox, ten minutes apart (closer, the
// guardrails' rate window would call more than 20 a loop).
func (w *world) conversation(tag string, rec correlate.Record, n int, at time.Time) []string {
	first := tag + ".0@contoso.example"
	w.known[first] = rec
	w.append("INBOX", mail{id: first, subject: "Case " + tag, date: at})
	ids := []string{first}
	prev := first
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s.%d@contoso.example", tag, i)
		w.append("INBOX", mail{id: id, inReplyTo: prev, subject: "Re: Case " + tag, date: at.Add(time.Duration(i) * 10 * time.Minute)})
		ids = append(ids, id)
		prev = id
	}
	return ids
}
