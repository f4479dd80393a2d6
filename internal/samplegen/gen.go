package samplegen

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Options sizes a sample. The zero Options is the embedded sample.
type Options struct {
	// Seed makes a different but equally deterministic sample.
	Seed uint64
	// ExtraCustomers adds customers (and their threads) beyond the nine of
	// the embedded sample, for benchmarks: each adds about 25 messages.
	ExtraCustomers int
	// Start is the date of the first message; zero means 2026-03-02.
	Start time.Time
	// Reps is the number of CRM users (the reps customers are assigned to,
	// round robin, who send the CRM's mail and its tracking tokens); 0
	// means the embedded sample's three, and at most MaxReps are used. A
	// rep's token counter rolls over after 999 tokens, as Dynamics' default
	// format does, so a large sample with few reps reuses every token many
	// times.
	Reps int
	// Gap is the mean time between the starts of two threads; 0 means the
	// embedded sample's 25 hours (5 to 45). Large samples need a shorter
	// gap: it keeps their dates within a few years (and before 2262, the
	// end of what time.Time.UnixNano represents) and lets the threads of
	// many customers run at the same time, as they do in a real mailbox.
	Gap time.Duration
}

// Folder mappings of the sample mailbox: what a user set up in Outlook.
const (
	// FolderContoso is mapped to the Contoso account.
	FolderContoso = "Inbox/Clients/Contoso"
	// FolderTrackOnly is mapped to no record: mail in it is tracked only.
	FolderTrackOnly = "Inbox/Track"
	// SentFolder holds the CRM's outgoing mail.
	SentFolder = "Inbox/Sent Items"
)

// A FolderMapping is one folder rule of the sample (the folder id is the
// path: Maildir has no stable ids).
type FolderMapping struct {
	Mailbox, FolderID, FolderPath, Regarding string
}

// Sample is a generated mailbox with its truth.
type Sample struct {
	Mails   []Mail
	Folders []FolderMapping
}

type gen struct {
	r       *rand.Rand
	rr      *rand.Rand // for render: r in Generate, its own in Stream
	w       *world
	idSeq   int
	tokens  map[*person]int
	caseSeq int
	oppSeq  int
	mails   []*msg
	victim  *msg // the first CRM mail about a case (the stranger pastes its token)
}

func newGen(o *Options, extra int) *gen {
	g := &gen{
		r:      rand.New(rand.NewPCG(o.Seed, 0x6d61696c636f7272)),
		w:      newWorld(extra, o.Reps),
		tokens: map[*person]int{},
	}
	g.rr = g.r
	return g
}

// defaults applies the defaults of Options.
func defaults(opts *Options) Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	}
	return o
}

// clock returns the function that starts each thread: the next start time.
func (g *gen) clock(o *Options) func() time.Time {
	t := o.Start
	if o.Gap <= 0 {
		return func() time.Time { t = t.Add(time.Duration(5+g.r.IntN(40)) * time.Hour); return t }
	}
	return func() time.Time { t = t.Add(time.Duration(5+g.r.IntN(40)) * o.Gap / 25); return t }
}

func folders() []FolderMapping {
	return []FolderMapping{
		{Mailbox: Mailbox, FolderID: FolderContoso, FolderPath: FolderContoso, Regarding: "account:contoso"},
		{Mailbox: Mailbox, FolderID: FolderTrackOnly, FolderPath: FolderTrackOnly},
	}
}

// Generate returns the sample for opts, messages in date order.
func Generate(opts *Options) Sample {
	o := defaults(opts)
	g := newGen(&o, o.ExtraCustomers)
	next := g.clock(&o)
	for i, c := range g.w.cos {
		g.scenarios(c, i, next)
	}
	g.oneOffs(next)

	slices.SortStableFunc(g.mails, func(a, b *msg) int { return a.date.Compare(b.date) })
	s := Sample{Folders: folders()}
	for i, m := range g.mails {
		s.Mails = append(s.Mails, g.mail(m, i))
	}
	return s
}

// mail renders m, the i-th message (0-based) of the sample.
func (g *gen) mail(m *msg, i int) Mail {
	return Mail{
		Folder:    m.folder,
		Name:      fmt.Sprintf("%04d.eml", i+1),
		Raw:       g.render(m),
		MessageID: m.id,
		Date:      m.date,
		Regarding: m.regarding,
		Seed:      m.seed,
		Scenario:  m.scenario,
	}
}

// Folders returns the folder mappings of every sample: the mapped folders
// of Generate's Sample.Folders.
func Folders() []FolderMapping { return folders() }

// Stream generates the sample for opts one message at a time, in date
// order, and calls yield with each until it returns false; it returns the
// number of messages yielded. Unlike Generate it holds only the threads in
// progress, not the whole sample, so it writes samples of any size (ten
// million messages take a few minutes).
//
// Stream writes the same messages as Generate for the same opts — the same
// ids, dates, subjects, threads, labels and tokens — except that it draws
// the relay address of each Received field from a generator of its own, so
// those bytes differ.
func Stream(opts *Options, yield func(Mail) bool) int {
	o := defaults(opts)
	g := newGen(&o, 0)
	g.rr = rand.New(rand.NewPCG(o.Seed, 0x72656e646572))
	next := g.clock(&o)
	var (
		t    time.Time // the latest thread start: no later message is older
		n    int
		stop bool
	)
	tick := func() time.Time { t = next(); return t }
	// flush yields, in date order, the messages no later thread can precede.
	flush := func(all bool) {
		slices.SortStableFunc(g.mails, func(a, b *msg) int { return a.date.Compare(b.date) })
		k := 0
		for k < len(g.mails) && !stop && (all || g.mails[k].date.Before(t)) {
			stop = !yield(g.mail(g.mails[k], n))
			g.mails[k] = nil
			n++
			k++
		}
		g.mails = append(g.mails[:0], g.mails[k:]...)
	}
	for i := 0; i < baseCustomers+o.ExtraCustomers && !stop; i++ {
		var c *company
		if i < baseCustomers {
			c = g.w.cos[i]
		} else {
			c = extraCompany(i - baseCustomers) // made when needed, dropped after
		}
		g.scenarios(c, i, tick)
		if len(g.mails) >= 256 {
			flush(false)
		}
	}
	if !stop {
		g.oneOffs(tick)
		flush(true)
	}
	return n
}

// emit records m as seen by the synchronized mailbox.
func (g *gen) emit(m *msg) *msg {
	if m.folder == "" {
		m.folder = "Inbox"
		if m.outgoing {
			m.folder = SentFolder
		}
	}
	if g.victim == nil && m.scenario == "crm-sent" && strings.HasPrefix(m.regarding, "incident:") {
		g.victim = m
	}
	g.mails = append(g.mails, m)
	return m
}

func (g *gen) later(t time.Time, minH, maxH int) time.Time {
	return t.Add(time.Duration(minH)*time.Hour + time.Duration(g.r.IntN((maxH-minH)*60+1))*time.Minute)
}

var tokenRe = regexp.MustCompile(`\s*CRM:\d{7}`)

// token issues rep's next tracking token, Dynamics' default format: "CRM:",
// the online digit 0, the 3-digit user number and a 3-digit counter that
// rolls over after 999.
func (g *gen) token(rep *person) string {
	g.tokens[rep]++
	return fmt.Sprintf("CRM:0%03d%03d", g.w.repNum[rep], g.tokens[rep]%1000)
}

// start writes the first message of a thread.
func (g *gen) start(from *person, to, cc []*person, subject string, at time.Time, regarding, scenario string) *msg {
	m := &msg{from: from, to: to, cc: cc, subject: subject, date: at, regarding: regarding, scenario: scenario,
		outgoing: from.client == crm, body: bodyFor(from, subject)}
	m.id = g.newID(from, at)
	if from.client == outlook {
		m.threadIndex = g.newThreadIndex(at)
		m.topic = subject
	}
	return m
}

// crmSend writes an email sent from the CRM by rep, regarding rec, with a
// tracking token appended; it starts a thread or replies to parent.
func (g *gen) crmSend(rep *person, to, cc []*person, parent *msg, subject string, at time.Time, rec string) *msg {
	if parent != nil {
		subject = "RE: " + stripPrefixes(parent.subject)
	}
	subject = strings.TrimSpace(tokenRe.ReplaceAllString(subject, "")) + " " + g.token(rep)
	m := &msg{from: rep, to: to, cc: cc, subject: subject, date: at, regarding: rec, seed: true,
		scenario: "crm-sent", outgoing: true, body: bodyFor(rep, subject)}
	m.id = g.newID(rep, at)
	if parent != nil {
		g.thread(m, parent)
		if parent.threadIndex != nil {
			m.threadIndex = g.childThreadIndex(parent.threadIndex, at)
			m.topic = parent.topic
		}
	}
	return g.emit(m)
}

// thread sets the threading headers of a reply to parent.
func (g *gen) thread(m, parent *msg) {
	m.inReplyTo = parent.id
	m.refs = append(append([]string(nil), parent.refs...), parent.id)
	if len(m.refs) > 8 {
		m.refs = m.refs[len(m.refs)-8:]
	}
}

type replyOpts struct {
	to, cc       []*person
	dropHeaders  bool // the client wrote no In-Reply-To/References
	dropIndex    bool // no Thread-Index either
	stripToken   bool // the author deleted the token from the subject
	newSubject   string
	forward      bool
	freshIndex   bool // Outlook started a new conversation index
	folder       string
	scenario     string
	regarding    *string // label override (default: parent's)
	extraHeaders [][2]string
}

// reply writes from's reply (or forward) to parent as from's client would.
func (g *gen) reply(parent *msg, from *person, at time.Time, o replyOpts) *msg {
	l := langs[from.lang]
	prefix := l.reply
	if o.forward {
		prefix = l.forward
	}
	subj := parent.subject
	if strings.HasPrefix(strings.ToUpper(subj), strings.ToUpper(prefix)) {
		subj = subj[len(prefix):] // clients do not repeat their own prefix …
	}
	if from.client == foxmail && !o.forward {
		subj = parent.subject // … except Foxmail, which stacks "回复：回复："
	}
	if o.stripToken {
		subj = strings.TrimSpace(tokenRe.ReplaceAllString(subj, ""))
	}
	subj = prefix + subj
	if o.newSubject != "" {
		subj = o.newSubject
	}
	m := &msg{from: from, to: o.to, cc: o.cc, subject: subj, date: at, regarding: parent.regarding,
		scenario: o.scenario, folder: o.folder, headers: o.extraHeaders, body: bodyFor(from, subj),
		outgoing: from.client == crm}
	if m.scenario == "" {
		m.scenario = "reply:" + clientName(from.client)
	}
	if o.regarding != nil {
		m.regarding = *o.regarding
	}
	if m.to == nil {
		m.to = []*person{parent.from}
	}
	m.id = g.newID(from, at)
	if !o.dropHeaders && from.client != pop && !(o.forward && from.client == outlook) {
		g.thread(m, parent)
	}
	if from.client == outlook && !o.dropIndex {
		switch {
		case o.freshIndex || parent.threadIndex == nil:
			m.threadIndex = g.newThreadIndex(at)
			m.topic = stripPrefixes(tokenRe.ReplaceAllString(subj, ""))
		default:
			m.threadIndex = g.childThreadIndex(parent.threadIndex, at)
			m.topic = parent.topic
		}
	}
	return m
}

func clientName(c client) string {
	return [...]string{"outlook", "gmail", "apple-mail", "thunderbird", "foxmail", "pop3", "crm"}[c]
}

var prefixRe = regexp.MustCompile(`^((RE|AW|R|RES|SV|TR|FW|WG|I|ENC|VB|RV|Re|Fwd) ?: ?|回复：|转发：)+`)

func stripPrefixes(s string) string { return strings.TrimSpace(prefixRe.ReplaceAllString(s, "")) }

func bodyFor(p *person, subject string) string {
	greet := map[string]string{"de": "Hallo", "fr": "Bonjour", "it": "Buongiorno", "pt": "Olá", "sv": "Hej", "zh": "您好", "es": "Hola"}[p.lang]
	if greet == "" {
		greet = "Hello"
	}
	return fmt.Sprintf("%s,\n\nplease see below regarding %q.\n\n%s\n", greet, stripPrefixes(subject), p.name)
}

func (g *gen) newCase() string   { g.caseSeq++; return fmt.Sprintf("incident:CAS-%05d", 1000+g.caseSeq) }
func (g *gen) newOpp() string    { g.oppSeq++; return fmt.Sprintf("opportunity:OPP-%04d", 2000+g.oppSeq) }
func (g *gen) rep(i int) *person { return g.w.reps[i%len(g.w.reps)] }
