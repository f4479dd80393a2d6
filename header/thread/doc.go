// Package thread reconstructs conversations: it builds reply trees from the
// Message-ID, In-Reply-To and References fields of a set of messages, with
// dummy nodes for messages that are missing, loop breaking, duplicate
// Message-IDs and, optionally, grouping of roots by base subject. It
// implements JWZ's threading algorithm as RFC 5256 specifies it for IMAP
// (THREAD=REFERENCES), RFC 5256 THREAD=ORDEREDSUBJECT, and a default mode
// made for real mail.
//
// A correlator that knows the conversation can file a message whose own
// headers only name mail the CRM never tracked: the tracked messages of its
// thread tell the record.
//
//	roots := thread.Thread(msgs, nil)        // RealMail mode
//	fmt.Print(thread.FormatTree(roots, nil)) // indented, for people
//	fmt.Println(thread.Format(roots, nil))   // RFC 5256: (1 (2)(3))(4)
//
// A mailbox sync that meets mail one message at a time uses a [Threader]:
// Add updates only what the new message touches, and Roots gives the same
// forest as Thread of every message added.
//
// # Modes
//
// References is RFC 5256 section 3 REFERENCES to the letter, as an IMAP
// server must answer THREAD: the input order is the mailbox order (sequence
// numbers break ties and decide which of two messages with one Message-ID
// keeps it); a message's references are its References ids, or the first
// valid In-Reply-To id when References has none; ids are checked for form
// only; and roots with the same RFC 5256 base subject are merged (step 5).
// It passes Dovecot imaptest's eight THREAD=REFERENCES scripts.
//
// OrderedSubject is RFC 5256 ORDEREDSUBJECT: base subject groups, the oldest
// message of each the parent of the others. It passes imaptest's two
// scripts.
//
// RealMail, the default, runs the same steps with these differences:
//
//   - Junk ids are dropped, by the rules of package header (header.Junk):
//     ids without '@' such as the "<yes>" that git send-email users wrote into
//     whole patch series, a message's own id, the address of a participant.
//   - A message's parent is its In-Reply-To id, else its newest References
//     id; In-Reply-To wins because mailers that get References wrong (Debbugs
//     orders it wrongly) still name the message answered. The phrase form of
//     old mailers is read for its id ("Message from Name <address> of <date>
//     <id>" gives the last id; Gnus' "address's message of <date>" gives
//     none), so one person's address never becomes the common parent of
//     every reply to them.
//   - References chains (each id presumed the parent of the next, and the
//     newest the parent of the In-Reply-To id when References does not name
//     it) place missing messages and messages without headers of their own,
//     so a reply to a missing message still joins the conversation its
//     References name.
//   - The forest does not depend on the input order (see Determinism).
//   - Subjects are ignored unless Options.GroupBySubject is set: grouping
//     by subject fuses unrelated threads that share a subject ("Invoice",
//     a weekly report), the "excessive thread fusing" users of JWZ
//     threaders and notmuch complain about. With it set, base subjects come
//     from the Extended mode of package subject (localized prefixes such as
//     AW:, SV:, 回复:, counters such as Re[2]:, list tags).
//
// On notmuch's test corpora RealMail agrees exactly with notmuch (threads
// and parents); on lkml and spamassassin-ham it splits only the threads
// notmuch fuses through "<yes>" and through addresses in In-Reply-To.
//
// # The algorithm
//
// The steps of RFC 5256 REFERENCES, as implemented:
//
//  1. link messages to their parents by id, creating a dummy for each id
//     that no message carries (RealMail: see Determinism for the order);
//  2. the messages and dummies without parent are the roots;
//  3. a dummy below a root is replaced by its children; a dummy root with one
//     child is replaced by it; a dummy root with two or more stays;
//  4. the roots are sorted by sent date, a dummy by its first child;
//  5. (References mode, or GroupBySubject) roots with the same base subject
//     are merged: into a dummy root if one has the subject, else under a
//     root that is not a reply or forward, else under a new dummy;
//  6. every set of siblings is sorted by sent date.
//
// The sent date is the Date field, else Options.Date (IMAP servers give the
// INTERNALDATE, as RFC 5256 requires), else the zero time. Message-IDs are
// compared exactly as the Message carries them; correlate.ParseMessage
// normalizes them (no angle brackets, domain in lower case).
//
// # Determinism
//
// In RealMail mode the forest is a function of the set of messages, not of
// their order. Ties are broken by a total order on messages: sent date, then
// Message-ID, subject, In-Reply-To and References (compared as strings), and
// only then input order, so two messages that agree on all of these are
// interchangeable. Links are decided by a greedy pass in a fixed order:
//
//   - a Message-ID belongs to the oldest message carrying it; the others are
//     duplicates, threaded by their own headers, with ID "";
//   - each message's own parent link, newest message first, unless it would
//     close a loop: in a loop of replies the oldest message becomes the root;
//   - then the links presumed from References chains, oldest message first,
//     each only for a message or dummy that has no parent yet and unless it
//     would close a loop.
//
// A [Threader] keeps that result as messages arrive: a message whose links
// agree with what is there (the usual case: a reply to known mail) is linked
// in place, in time proportional to the ids it names; a message whose headers
// contradict earlier ones (another parent for the same message, a loop, an
// older copy of a known Message-ID) makes the Threader redo the greedy pass
// for the conversations it touches. Either way Roots equals Thread of the
// same messages.
//
// In References and OrderedSubject modes the input order is the mailbox
// order and matters, as RFC 5256 says: a Threader must be fed in mailbox
// order, and after an expunge the mailbox is threaded again (Thread).
//
// # Hostile input
//
// Headers are written by strangers. Nothing panics; References beyond
// Options.MaxReferences (32) are ignored, the newest kept; loops of any
// length are broken; deep chains need no recursion (Walk and the builders
// are iterative). Thread sorts, so it takes O(n log n) time for n messages
// and ids, plus the loop checks, which walk up the tree: O(1) per link for
// chains and real conversations, up to the depth of the tree for links that
// interleave adversarially.
//
// # Concurrency
//
// Thread, Format and FormatTree are safe for concurrent use. A Threader is
// safe for concurrent use (it takes a lock). The nodes a call returns belong
// to the caller and are never modified by this package afterwards; the
// messages are shared, not copied, and must not be modified while a
// Threader holds them. The package has no global state.
package thread
