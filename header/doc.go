// Package header correlates email by its headers: the Message-IDs it names
// (In-Reply-To, References, provider-preserved originals) and its Exchange
// conversation index (Thread-Index). It provides two strategies for a
// [correlate.Chain], each also a [correlate.Indexer] so the
// [correlate.Engine] indexes what they look up:
//
//   - [InReplyTo] ("inreplyto", method InReplyTo): Dynamics 365 looks
//     only at In-Reply-To; real mail needs more. InReplyTo tries the
//     message's own Message-ID (the same email synchronized from a second
//     mailbox), then In-Reply-To, then References newest to oldest, then
//     the ids a provider preserved when it rewrote the Message-ID
//     (X-Google-Original-Message-ID), and finally ancestor memory. It drops
//     junk ids and reports them, reports ids that name different records
//     as conflicts instead of silently taking one, and tells a duplicate
//     from a message that reuses another email's Message-ID.
//   - [ConversationIndex] ("conversation", method
//     ConversationIndex): the tracked email whose index is the message's
//     index minus its last 5-byte block (the parent), else the newest
//     tracked email of the same 22-byte conversation root.
//
// Wire them in Dynamics precedence, with the tracking token between them:
//
//	store := memstore.New()
//	chain := &correlate.Chain{Correlators: []correlate.Correlator{
//		header.NewInReplyTo(store, nil),
//		// token strategy here
//		header.NewConversationIndex(store, nil),
//	}}
//	engine := correlate.NewEngine(store, chain, nil)
//
// # Confidence
//
//	match                                                     confidence
//	own Message-ID already tracked (duplicate)                Certain
//	In-Reply-To names a tracked email                         Certain
//	newest References id names it (no usable In-Reply-To)     Certain
//	an older References id names it                           High
//	a provider-preserved original id is tracked               High
//	own Message-ID signed by this system (IDKeys), untracked  Certain
//	signed In-Reply-To or newest References id, untracked     Certain
//	an older signed References id, untracked                  High
//	a tracked email references this message (ancestor memory) High
//	a tracked email references the same id (ancestor memory)  Likely
//	Thread-Index parent is tracked                            High
//	Thread-Index root is tracked                              Likely
//
// When the ids of one InReplyTo match name tracked emails of different
// records (a thread split between two cases, an id shared by siblings filed
// apart), the winner's confidence drops one step on this scale — Certain to
// High, High to Likely, Likely to Weak (0.4) — and each other record is
// reported in Match.Conflicts, which a Chain copies into
// Decision.Conflicts. The rule follows the reading a person gives it: the
// nearest id still points to the right record most of the time (after a
// split the reply follows the part it answers), but no longer beyond
// doubt: a Chain with MinConfidence Certain no longer files it, and one
// under ConflictReview asks a person.
//
// The duplicate check has no correlationmethod of its own in Dynamics (it
// prevents a second activity); it is reported as method InReplyTo, since it
// is a Message-ID match, with the Reason "duplicate" and no Parent. It
// accepts only the same email (correlate.SameEmail: the sender, the Date
// and the base subject agree): a message that reuses the Message-ID of
// another tracked email — a stranger who read it in a reply's References —
// is a collision, reported in Evidence ("collision: tracked email 7 is
// another email with this id") and in the Reason, and correlated by its
// other headers only, never by the id it reuses (nor by that id's signed
// form or ancestor memory). Provider-preserved original ids are checked
// the same way.
//
// # Message-IDs
//
// Ids are compared in the form of [correlate.NormalizeMessageID]: the local
// part case-sensitive, the domain case-insensitive, as RFC 5322 intends.
// [Junk] lists the ids dropped, each seen in real mail: "<yes>" and other
// ids without '@' (git send-email), the message's own id, and addresses
// written into In-Reply-To by nmh ("Message from Name <address> of …").
// Ids from a field that also holds free text (the RFC 822 phrase form of
// In-Reply-To) are looked up but never remembered as ancestors.
//
// # Signed Message-IDs
//
// [NewMessageID] writes the record an outgoing email is regarding into its
// Message-ID, with an 80-bit HMAC-SHA-256 over it, as osTicket and FreeScout
// do: "<mc1.NONCE.RECORD.MAC@crm.example>", lower-case base32, at most
// MaxMessageIDLen (320) characters. Given the same keys (Options.IDKeys),
// InReplyTo recovers the record from a reply's In-Reply-To or References
// even when the email it answers was never tracked or has been deleted, and
// rejects a forged or altered id with the Evidence note "bad signature".
// The first key signs and every key verifies, so keys rotate. The ids do not
// say who may reply (a forwarded email's reader can); the InReplyTo
// correlation was never a sender check, and a guard's SenderPolicy can add
// one (guard.Options.PolicyMethods).
//
// # Ancestor memory
//
// When an email is tracked, the InReplyTo Indexer keys it under every id it
// references (KindAncestor), whether or not the CRM ever saw those emails.
// A later email that references the same id — a sibling reply to a message
// the CRM never received, an RT reply that references only the ticket's
// ghost id — correlates with the newest such email, and an email that a
// tracked email references (its reply arrived first) correlates too. Such
// matches rank below direct id matches and say so in Evidence. notmuch
// keeps such "ghost" ids for threading; no helpdesk surveyed does.
//
// # Thread-Index variants
//
// [ParseIndex] decodes the conversation index (MS-OXOMSG §2.2.1.3): a
// 22-byte header and 5-byte child blocks. Real clients write three kinds of
// header ([Variant]); in the usrp-users corpus (249 indexes):
//
//   - modern (183): 0x01, then the top 40 bits of the FILETIME (Exchange
//     Online, Outlook on the web; base64 "AQH…"); the first child delta
//     counts from the classic misreading of the header and wraps modulo
//     2⁵⁴, so it is decoded back next to the header time;
//   - classic (53): the top 48 bits of the FILETIME in bytes 0–5 (Outlook
//     desktop; base64 "Ac…", "Ad…"); child deltas count from the header;
//   - opaque (13): neither layout gives a plausible time: Zimbra writes
//     random bytes, and Outlook writes a header of its own when it answers
//     mail that carried no index.
//
// Decoded root times are never later than the Date field (plus its
// one-second resolution) and earlier by the time spent composing: within an
// hour for 68 of 71 roots, 27 hours at most. Only the byte prefixes matter
// for correlation; the times are for display and diagnosis.
//
// # Concurrency
//
// InReplyTo and ConversationIndex are safe for concurrent use when their
// Lookuper is; Index values are immutable views of their bytes. The package
// has no global state.
package header
