// Package imapsync is server-side synchronization over IMAP and POP3: it
// connects to live mailboxes, reads their Inbox, the tracked folders under
// it and (when asked) Sent, correlates every new email with a
// correlate.Engine, files it in a store.Store, and re-links an email a
// person drags into a tracked folder from any device — what Dynamics 365
// server-side synchronization does with Exchange, for any IMAP server; and
// what its POP3 profiles do, email only, for a POP3 mailbox (see POP3
// below).
//
//	st := memstore.New()                        // or sqlstore: SQLite, PostgreSQL
//	rules := &folder.Rules{}
//	engine, _ := mailcorrelate.New(st, &mailcorrelate.Options{Folders: rules})
//	s, err := imapsync.New(engine, st, &imapsync.Options{
//		Rules: rules,
//		Mailboxes: []imapsync.Mailbox{{
//			Address:  "anna@fabrikam.example",
//			URL:      "imaps://anna@imap.fabrikam.example",
//			Password: pw,
//			Folders:  []folder.Mapping{{FolderPath: "Inbox/Clients/Contoso", Record: contoso}},
//		}},
//	})
//	err = s.Run(ctx)   // until ctx ends; SyncOnce(ctx) makes one pass
//
// # What is read, what is never touched
//
// Inbox, each tracked folder (at most 25, under Inbox: the folder
// package's rules) and, with Mailbox.Sent, the folder with SPECIAL-USE
// \Sent — nothing else, as Dynamics never processes other folders.
// Headers are fetched with UID FETCH BODY.PEEK[HEADER] and RFC822.SIZE in
// batches; a body only when the guardrails need it (a bounce, to find the
// message it returns), bounded by Options.MaxBodyBytes. Folders are opened
// with EXAMINE (read-only) and every fetch PEEKs: the IMAP sync never
// sets \Seen, never deletes, moves or flags anything on the server.
//
// # Sync state and crash safety
//
// Each folder has a cursor in the store (store.State, named StatePrefix +
// address + "/inbox", "/sent" or "/rule/" + the rule's path): the folder's
// server id, UIDVALIDITY, the last UID done and HIGHESTMODSEQ where the
// server offers CONDSTORE. A message's writes — its tracked email, or its
// re-link — and its folder's cursor commit in one store.Apply, so a crash
// at any instant resumes with nothing lost and nothing filed twice. Mail
// left untracked writes nothing of its own: its cursor rides with the next
// write or the end of the batch (an untracked message changes nothing later
// messages are correlated against). A new UIDVALIDITY re-reads the folder,
// deduplicated by Message-ID.
//
// A pass reads the folders' new mail oldest first across folders (a merge
// of the folders' UID-ordered batches by Date), so a first sync meets a
// reply after the email it answers, wherever each sits.
//
// # Folder identity, renames and moves
//
// Folders are identified by the server's id: RFC 8474 MAILBOXID where
// offered, Dovecot's STATUS (X-GUID), else name and UIDVALIDITY. A rule
// given by path binds to its folder's id at first sight (the binding is
// kept in the rule's cursor), so a renamed tracked folder keeps its rule;
// a deleted one disables it with a status message, and a folder created
// again under the rule's path is bound anew and read again.
//
// An email that appears in a tracked folder whose rule names a record is
// (re)linked to that record — a folder rule beats a manual regarding, as
// in Dynamics — and filed under that folder, its folder index key
// included (store.Move, in the same Apply): a later change of the old
// folder's rule no longer reaches it. Moved to an unmapped folder or back
// to Inbox, it keeps its record and its folder (IMAP does not tell a move
// from a copy, and a server that shows labels as folders keeps a message
// in several at once). A copy tracked from another mailbox is left alone:
// the first processed wins.
//
// # Push, polling and failures
//
// Between passes the sync IDLEs on Inbox where the server offers IDLE
// (re-issued every Options.IdleRestart, 28 minutes), so new mail and mail
// moved out of Inbox start a pass at once; a pass also runs every
// Options.PollInterval (60 s), which is how moves between other folders are
// seen, and all there is without IDLE. A transient failure (a lost
// connection, a server error, an unavailable store) reconnects with
// exponential backoff and jitter; a permanent one (authentication refused,
// no TLS, Inbox gone) stops that mailbox with a Status, and the others go
// on. One malformed or oversize message is reported (an Event with Action
// Failed, Counts.Errors) and skipped; it never blocks the mailbox.
//
// # Many mailboxes, many workers
//
// Run syncs every mailbox concurrently, at most Options.Workers in a pass at
// once. A mailbox is synced only under its lease (store.Store.Acquire,
// renewed every third of Options.LeaseTTL), and every write carries it
// (store.Batch.Lease): with a shared PostgreSQL store, processes on several
// machines share the mailboxes, no mailbox is synced by two workers at
// once, and a dead worker's mailboxes are taken over when its leases
// expire.
//
// # POP3
//
// A Mailbox whose URL is pop3s:// (TLS) or pop3:// (STLS required unless
// the host is loopback) is a POP3 mailbox: its maildrop is read as the
// Inbox, with the same pipeline, leases, workers, backoff and Status. POP3
// has no folders and no moves: a POP3 mailbox with folder rules or Sent is
// refused. Each pass is a session of its own, ended with QUIT (a POP3
// session sees the maildrop as it was at login, and may lock it against
// the person's own mail program), and passes run every
// Options.PollInterval: POP3 has no IDLE.
//
// The state is one row per message done, POP3StatePrefix + address +
// "/uidl/" + its UIDL (RFC 1939), whose value is the message's size and a
// digest of its header: written in the same store.Apply as the email it
// covers, and loaded once per pass with store.Store.States, so a 10,000-
// message maildrop costs no 10,000-entry blob rewritten per message. Rows
// of messages gone from the server are removed. A server without UIDL is
// refused (CauseUnsupported): without unique ids the sync cannot tell the
// mail it read from new mail. A server that loses its UID list gives UIDLs
// again, and one may then name a message never read: a UIDL whose message
// has another size is read again, and when the last message done has
// another header every message is read again, deduplicated by Message-ID.
//
// Headers come by TOP n 0, pipelined where the server offers PIPELINING
// (RFC 2449), in batches of Options.BatchSize; a message is retrieved
// whole (RETR) only when the guardrails need its body (a bounce), kept to
// Options.MaxBodyBytes, or from a server without TOP (a server that keeps
// IMAP flags too, as Dovecot, marks a retrieved message \Seen; TOP does
// not). Nothing is deleted,
// unless Mailbox.DeleteFromServer asks to leave nothing on the server:
// then each message is deleted (DELE, made at QUIT) once its writes are
// committed — a session cut before QUIT deletes nothing, and the next
// pass, finding the messages done, deletes them. Passwords go by USER and
// PASS (AUTH PLAIN where USER is not offered), tokens by AUTH XOAUTH2
// (RFC 5034), as Gmail and Microsoft 365 take them.
//
// # Sources
//
// The per-message pipeline — parse, fetch a bounce's body, Options.Known,
// correlate, the incoming-email filter, Put or Relink with the cursor in
// one Apply, Event and Counts — and everything around it (leases, workers,
// backoff, Status) knows nothing of IMAP or POP3 but a folder's cursor (or
// a message's row) and functions that fetch headers and a body. imap.go
// speaks IMAP and pass.go finds the folders and merges their mail;
// pop3.go speaks POP3 (with internal/pop3) and pop3pass.go reads a
// maildrop. Both plug into the Syncer as a source: a pass, a wait, a
// close.
package imapsync
