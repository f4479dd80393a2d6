package guard

import (
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// Header fields the Classifier reads, in canonical form (the keys of
// correlate.Message.Header).
const (
	hAutoSubmitted    = "Auto-Submitted"
	hXAutoreply       = "X-Autoreply"
	hXAutorespond     = "X-Autorespond"
	hXFCMachine       = "X-Fc-Machinegenerated"
	hPrecedence       = "Precedence"
	hSuppress         = "X-Auto-Response-Suppress"
	hListID           = "List-Id"
	hListUnsubscribe  = "List-Unsubscribe"
	hReturnPath       = "Return-Path"
	hContentType      = "Content-Type"
	hContentTransfer  = "Content-Transfer-Encoding"
	hExchangeNDR      = "X-Ms-Exchange-Message-Is-Ndr"
	hFailedRecipients = "X-Failed-Recipients"
)

// Options configures a [Classifier] (Marker, AutoReplySubject, NoSubject)
// and a [Guard] (the other fields). A nil *Options is equivalent to the
// zero value, and zero fields mean the documented defaults.
type Options struct {
	// Marker, when set, recognizes this system's own loop marker: an
	// incoming message carrying one that verifies is a Loop.
	Marker *Marker
	// AutoReplySubject reports an out-of-office subject prefix; nil means
	// subject.AutoReply (Outlook, Lotus Notes and Gmail prefixes in some 25
	// languages). The bare prefix "Auto:" counts only together with another
	// automatic-mail signal, since it also begins subjects about cars.
	AutoReplySubject func(subject string) (prefix string, ok bool)
	// NoSubject turns subject detection off: only header fields and the
	// body decide.
	NoSubject bool

	// Classifier classifies every message before it is correlated; nil
	// means none, every message is ordinary mail (the root package sets
	// New(opts) unless told otherwise). A *Classifier and a ClassifierFunc
	// are Classifiers.
	Classifier interface {
		Classify(m *correlate.Message) correlate.Classification
	}
	// Untracked are the classes correlated but not tracked
	// (Decision.Track reports false, Decision.NoTrack says why); nil means
	// DefaultUntracked(): AutoReply, Bounce and Loop. Bulk is tracked: a
	// reply posted through a mailing list is still a person's reply. An
	// empty non-nil slice tracks every class.
	Untracked []string
	// Loops watches correlated traffic for ping-pong; nil means none (the
	// root package sets NewRateWindow(&RateWindow)).
	Loops LoopDetector
	// RateWindow configures the rate window the root package sets as Loops:
	// by default more than 20 messages from one sender about one record
	// within two hours.
	RateWindow RateOptions
	// SenderPolicy must accept the sender of the matches whose method is in
	// PolicyMethods (the chain then tries the next strategy); nil means
	// none (the root package sets ParticipantPolicy). The policy's Evidence
	// is in the Match (or the refused Step) and its note in the Reason.
	SenderPolicy SenderPolicy
	// PolicyMethods are the methods SenderPolicy applies to; nil means
	// DefaultPolicyMethods(), TrackingToken only. Header matches are not
	// checked by default: a Message-ID or Thread-Index is not shown by mail
	// programs, so a reply naming one comes from someone who received the
	// email (a forwarded colleague, a new Cc), and refusing it would lose
	// the reply; against forged ids, sign them (header.Options.IDKeys). Add
	// correlate.InReplyTo and correlate.ConversationIndex when your
	// Message-IDs are guessable.
	PolicyMethods []correlate.Method
	// OnConflict is what happens when strategies name different records:
	// the winner stands (ConflictPrecedence, the default), or a person
	// reviews (ConflictReview, which implies the chain's audit mode).
	OnConflict ConflictPolicy
	// Records reports merged, closed and deleted records ([States] keeps
	// them in memory); nil means every record is open.
	Records RecordResolver
	// OnClosed is what happens when the record found is closed:
	// ClosedCorrelate (the default), ClosedNew or ClosedReject.
	OnClosed ClosedPolicy
	// MaxMergeHops bounds the merges followed from one record; 0 means
	// DefaultMaxMergeHops (10).
	MaxMergeHops int
}

// A Classifier is the default classifier of a [Guard]: it reads a message's
// header fields (correlate.Message.Header), its subject and, for bounces,
// its body (correlate.Message.Body), and decides its class with Evidence. It keeps no state and does no I/O; it is safe for concurrent
// use.
//
// Bodies: [correlate.ParseMessage] keeps the body only with
// ParseOptions.KeepBody. Without it the header fields still classify nearly
// every bounce (the Content-Type of a delivery status notification, the
// mailer-daemon sender, the empty Return-Path), but the returned message
// cannot be read, so Classification.Original stays nil and the Guard can
// correlate the bounce only by its own headers.
type Classifier struct {
	marker    *Marker
	autoReply func(string) (string, bool)
}

// New returns a Classifier. A nil opts means the defaults.
func New(opts *Options) *Classifier {
	var o Options
	if opts != nil {
		o = *opts
	}
	c := &Classifier{marker: o.Marker, autoReply: o.AutoReplySubject}
	if c.autoReply == nil {
		c.autoReply = subject.AutoReply
	}
	if o.NoSubject {
		c.autoReply = nil
	}
	return c
}

// String returns "guard".
func (c *Classifier) String() string { return "guard" }

// signals collects what one message shows, without allocating.
type signals struct {
	loop                 correlate.Evidence // our own marker
	foreignMarker        correlate.Evidence // a marker that does not verify
	dsn, mdn             string             // Content-Type of a report
	ndrHeader            string             // X-MS-Exchange-Message-Is-Ndr
	failedRcpt           string             // X-Failed-Recipients
	daemon               correlate.Evidence // mailer-daemon or postmaster sender
	nullReturn           bool               // Return-Path: <>
	autoSubmitted        string
	xAutoreply           string
	xAutorespond         string
	xMachine             string
	precedence           string // lower case
	listID, listUnsub    string
	subjectPrefix        string
	suppress             string
	suppressAutoResponse bool
}

// Classify implements correlate.Classifier. The classes are checked from the
// most to the least specific; the first that applies wins and every signal
// found is reported in Evidence:
//
//  1. Loop: an incoming message (Direction Incoming) carrying this system's
//     own loop marker, verified (Options.Marker). Outgoing mail carries it
//     by design and stays Normal.
//  2. Bounce: a delivery status notification (Content-Type multipart/report
//     with report-type=delivery-status, RFC 3464), Exchange's
//     X-MS-Exchange-Message-Is-Ndr field, a sender or Return-Path whose
//     local part is mailer-daemon or postmaster, or an empty Return-Path
//     (<>) on a message that no auto-reply field explains (RFC 3834
//     responders use the empty Return-Path too). The returned message is
//     read from the body when it was kept: the message/rfc822 (or
//     message/global) part, else the text/rfc822-headers part, else, in a
//     plain-text bounce (qmail, old Exim), the header block quoted after
//     the notice; the delivery-status fields (Action, Status,
//     Final-Recipient, Diagnostic-Code) become Evidence.
//  3. AutoReply: Auto-Submitted other than "no" (RFC 3834: auto-replied,
//     auto-generated; RFC 5436: auto-notified), X-Autoreply, X-Autorespond,
//     X-FC-Machinegenerated (RT's check), Precedence auto_reply, a
//     read receipt (multipart/report; report-type=disposition-notification),
//     or an out-of-office subject (see Options.AutoReplySubject).
//  4. Bulk: Precedence bulk, junk or list; List-Id together with
//     List-Unsubscribe.
//  5. Normal otherwise.
//
// X-Auto-Response-Suppress is a request, not a mark: Exchange writes it on
// ordinary mail to ask recipients not to auto-reply. It never changes the
// class; "All", "OOF" or "AutoReply" in it sets NoAutoResponse, which every
// class but Normal sets anyway.
//
// A Normal message allocates nothing. Classify never panics: a malformed
// field or body part is ignored, or reported in Evidence.
func (c *Classifier) Classify(m *correlate.Message) correlate.Classification {
	if m == nil {
		return correlate.Classification{}
	}
	var s signals
	c.scan(m, &s)
	switch {
	case s.loop.Field != "":
		return s.classification(Loop, "carries this system's own loop marker: the message came back", nil)
	case s.dsn != "" || s.ndrHeader != "" || s.daemon.Field != "" || (s.nullReturn && !s.autoReplyFields() && s.subjectPrefix == "" && s.mdn == ""):
		return c.bounce(m, &s)
	case s.autoReplyFields() || s.mdn != "" || (s.subjectPrefix != "" && (!bareAuto(s.subjectPrefix) || s.nullReturn)):
		return s.classification(AutoReply, s.autoReplyReason(), nil)
	case s.precedence == "bulk" || s.precedence == "junk" || s.precedence == "list" || (s.listID != "" && s.listUnsub != ""):
		return s.classification(Bulk, s.bulkReason(), nil)
	}
	if s.suppressAutoResponse || s.foreignMarker.Field != "" || s.subjectPrefix != "" {
		cl := s.classification(Normal, "", nil)
		cl.NoAutoResponse = s.suppressAutoResponse
		return cl
	}
	return correlate.Classification{}
}

// scan reads the signals of m's header.
func (c *Classifier) scan(m *correlate.Message, s *signals) {
	if c.marker != nil && m.Direction == correlate.Incoming {
		if ev, ours, ok := c.marker.check(m); ok {
			if ours {
				s.loop = ev
			} else {
				s.foreignMarker = ev
			}
		}
	}
	if ct := first(m, hContentType); len(ct) >= 16 && strings.EqualFold(ct[:16], "multipart/report") {
		mt, rt := reportType(ct)
		if mt == "multipart/report" {
			switch rt {
			case "delivery-status":
				s.dsn = ct
			case "disposition-notification":
				s.mdn = ct
			}
		}
	}
	for _, a := range m.From {
		if isDaemon(a.Address) {
			s.daemon = correlate.Evidence{Field: "From", Value: a.Address, Note: "a mail system's address"}
			break
		}
	}
	if s.daemon.Field == "" && isDaemon(m.Sender.Address) {
		s.daemon = correlate.Evidence{Field: "Sender", Value: m.Sender.Address, Note: "a mail system's address"}
	}
	if rp := first(m, hReturnPath); rp != "" {
		addr := strings.TrimSpace(rp)
		if strings.HasPrefix(addr, "<") {
			if end := strings.IndexByte(addr, '>'); end > 0 {
				addr = strings.TrimSpace(addr[1:end])
			}
		}
		switch {
		case addr == "" || addr == "<>":
			s.nullReturn = true
		case s.daemon.Field == "" && isDaemon(addr):
			s.daemon = correlate.Evidence{Field: "Return-Path", Value: clip(rp), Note: "a mail system's address"}
		}
	}
	if c.autoReply != nil && m.Subject != "" {
		if p, ok := c.autoReply(m.Subject); ok {
			s.subjectPrefix = p
		}
	}
	if m.HasAnyField(rareFields[:]...) {
		scanRare(m, s)
	}
}

// rareFields are the fields Classify reads that most mail does not have:
// a message without any of them is answered by one question
// (correlate.Message.HasAnyField) instead of one per field.
var rareFields = [...]string{hExchangeNDR, hFailedRecipients, hAutoSubmitted, hXAutoreply, hXAutorespond,
	hXFCMachine, hPrecedence, hListID, hListUnsubscribe, hSuppress}

// scanRare reads the signals of the rareFields.
func scanRare(m *correlate.Message, s *signals) {
	if _, ok := m.Field(hExchangeNDR); ok {
		s.ndrHeader = "present"
		if v := first(m, hExchangeNDR); v != "" {
			s.ndrHeader = v
		}
	}
	s.failedRcpt = first(m, hFailedRecipients)
	if v := keyword(first(m, hAutoSubmitted)); v != "" && v != "no" {
		s.autoSubmitted = first(m, hAutoSubmitted)
	}
	s.xAutoreply = affirmative(m, hXAutoreply)
	s.xAutorespond = affirmative(m, hXAutorespond)
	s.xMachine = affirmative(m, hXFCMachine)
	s.precedence = keyword(first(m, hPrecedence))
	s.listID = first(m, hListID)
	s.listUnsub = first(m, hListUnsubscribe)
	if v := first(m, hSuppress); v != "" {
		s.suppress = v
		for w := range strings.SplitSeq(v, ",") {
			switch strings.ToLower(strings.TrimSpace(w)) {
			case "all", "oof", "autoreply":
				s.suppressAutoResponse = true
			}
		}
	}
}

// autoReplyFields reports a header field that marks automatic mail.
func (s *signals) autoReplyFields() bool {
	return s.autoSubmitted != "" || s.xAutoreply != "" || s.xAutorespond != "" || s.xMachine != "" ||
		s.precedence == "auto_reply" || s.precedence == "auto-reply"
}

func (s *signals) autoReplyReason() string {
	switch {
	case s.autoSubmitted != "":
		return "Auto-Submitted: " + clip(s.autoSubmitted) + " (RFC 3834)"
	case s.xAutoreply != "":
		return "X-Autoreply: " + clip(s.xAutoreply)
	case s.xAutorespond != "":
		return "X-Autorespond field"
	case s.xMachine != "":
		return "X-FC-Machinegenerated: " + clip(s.xMachine)
	case s.precedence == "auto_reply" || s.precedence == "auto-reply":
		return "Precedence: auto_reply"
	case s.mdn != "":
		return "a read receipt (disposition notification, RFC 8098)"
	}
	return "out-of-office subject " + clip(strings.TrimSpace(s.subjectPrefix))
}

func (s *signals) bulkReason() string {
	if s.precedence != "" && s.precedence != "auto_reply" && s.precedence != "auto-reply" {
		return "Precedence: " + s.precedence
	}
	return "mailing list (List-Id " + clip(s.listID) + " with List-Unsubscribe)"
}

// classification builds the verdict with every signal as Evidence, extra
// first.
func (s *signals) classification(class string, reason string, extra []correlate.Evidence) correlate.Classification {
	ev := make([]correlate.Evidence, 0, len(extra)+8)
	ev = append(ev, extra...)
	add := func(field, value, note string) {
		ev = append(ev, correlate.Evidence{Field: field, Value: clip(value), Note: note})
	}
	if s.loop.Field != "" {
		ev = append(ev, s.loop)
	}
	if s.foreignMarker.Field != "" {
		ev = append(ev, s.foreignMarker)
	}
	if s.dsn != "" {
		add("Content-Type", s.dsn, "delivery status notification (RFC 3464)")
	}
	if s.mdn != "" {
		add("Content-Type", s.mdn, "disposition notification: a read receipt")
	}
	if s.ndrHeader != "" {
		add("X-MS-Exchange-Message-Is-Ndr", s.ndrHeader, "Exchange non-delivery report")
	}
	if s.failedRcpt != "" {
		add("X-Failed-Recipients", s.failedRcpt, "addresses that could not be reached")
	}
	if s.daemon.Field != "" {
		ev = append(ev, s.daemon)
	}
	if s.nullReturn {
		add("Return-Path", "<>", "empty return path: a bounce or an automatic response")
	}
	if s.autoSubmitted != "" {
		add("Auto-Submitted", s.autoSubmitted, "automatic mail (RFC 3834)")
	}
	if s.xAutoreply != "" {
		add("X-Autoreply", s.xAutoreply, "automatic reply")
	}
	if s.xAutorespond != "" {
		add("X-Autorespond", s.xAutorespond, "automatic reply")
	}
	if s.xMachine != "" {
		add("X-FC-Machinegenerated", s.xMachine, "machine-generated")
	}
	if s.precedence != "" {
		add("Precedence", s.precedence, "")
	}
	if s.listID != "" {
		add("List-Id", s.listID, "mailing list")
	}
	if s.listUnsub != "" {
		add("List-Unsubscribe", s.listUnsub, "")
	}
	if s.subjectPrefix != "" {
		note := "out-of-office subject prefix"
		if bareAuto(s.subjectPrefix) && class == Normal {
			note += " (\"Auto:\" alone is not enough)"
		}
		add("Subject", strings.TrimSpace(s.subjectPrefix), note)
	}
	if s.suppress != "" {
		add("X-Auto-Response-Suppress", s.suppress, "asks not to be answered automatically; not itself automatic")
	}
	return correlate.Classification{
		Class:          class,
		Reason:         reason,
		Evidence:       ev,
		NoAutoResponse: class != Normal,
	}
}

// first returns the first value of a canonical field, trimmed
// (correlate.Message.Field: an absent field costs no map lookup).
func first(m *correlate.Message, key string) string {
	v, _ := m.Field(key)
	return strings.TrimSpace(v)
}

// keyword returns the first word of a field value in lower case, without
// parameters or comments: "Auto-Replied; owner=x (y)" is "auto-replied".
func keyword(v string) string {
	if i := strings.IndexAny(v, ";( \t"); i >= 0 {
		v = v[:i]
	}
	if !isLowerASCII(v) {
		v = strings.ToLower(v)
	}
	return v
}

func isLowerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return false
		}
	}
	return true
}

// affirmative returns the value of a flag field unless it says no.
func affirmative(m *correlate.Message, key string) string {
	v, ok := m.Field(key)
	if !ok {
		return ""
	}
	v = strings.TrimSpace(v)
	switch keyword(v) {
	case "no", "false", "0", "off":
		return ""
	case "":
		return "(empty)"
	}
	return v
}

// isDaemon reports an address whose local part is mailer-daemon or
// postmaster (RFC 5321 §4.5.1; RT's CheckForAutoGenerated), or a bare
// MAILER-DAEMON.
func isDaemon(addr string) bool {
	local := addr
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		local = addr[:at]
	}
	return strings.EqualFold(local, "mailer-daemon") || strings.EqualFold(local, "postmaster")
}

// bareAuto reports a subject prefix that is just "Auto:" (after list tags).
func bareAuto(prefix string) bool {
	p := strings.TrimSpace(prefix)
	if i := strings.LastIndexByte(p, ']'); i >= 0 {
		p = strings.TrimSpace(p[i+1:])
	}
	p = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(p, ":"), "："))
	return strings.EqualFold(p, "auto")
}

// clip bounds a value copied into Evidence.
func clip(s string) string {
	if len(s) <= 120 {
		return s
	}
	i := 120
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
