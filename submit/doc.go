// Package submit is an SMTP submission relay that files outgoing mail under
// CRM records as it leaves: Dynamics 365's tracking of the email a CRM user
// sends, for any mail client or CRM that submits over SMTP.
//
// The relay sits between the CRM (or the users' mail programs) and the
// organization's submission server:
//
//	CRM / mail client ──SMTP, AUTH──▶ submit.Relay ──SMTP──▶ submission server ──▶ the world
//	                                       │
//	                                       └──▶ Store: the tracked email, its token, its Message-ID
//
// For each message it
//
//   - decides the record: the one the client names in an X-CRM-Regarding
//     header ("X-CRM-Regarding: incident:CAS-01042", removed before
//     relaying); else the engine's decision (the record of the tracked email
//     the message replies to, by its In-Reply-To, References or token);
//     else none;
//   - stamps a tracking token on the subject (Options.Tokens, the user's
//     token number), within Exchange's 255-character limit, shortening the
//     subject and never the token, replacing the token of the email a reply
//     answers;
//   - gives it a signed Message-ID naming its record (header.NewMessageID),
//     unless it has one of ours for that record already, so that a reply
//     finds the record by its In-Reply-To even if the tracked email is gone;
//   - tracks it under its record (store.Store.Apply), and relays it.
//
// Only Subject, Message-ID and X-CRM-Regarding change; every other header
// field keeps its bytes and place, and the body is copied as it came (a
// DKIM signature is added after the relay, by the submission server). A
// subject in RFC 2047 encoded words keeps its encoding, with the token
// appended as plain text; one that must be shortened is written again in
// encoded words, checked to decode to the intended subject.
//
// # Transactions
//
// A message is tracked before it is relayed, together with a pending row
// (store.State "submit/pending/INSTANCE/ATTEMPT") in one atomic Apply; the
// email carries the attempt as an index key (KindAttempt). When the
// upstream server accepts the message the row is cleared, and only then
// does the client get its 250; when it refuses, or the connection fails,
// the tracked email is deleted and the client gets the upstream's reply.
// When tracking fails the message is not relayed, the attempt is rolled
// back (a commit reported failed may have been made) and the client gets a
// temporary 451, so it retries. The writes of the messages under way share
// Applies (group commit): those that come while one is being made are made
// together in the next, each still durable before the relay goes on with
// its message, so under load a message costs less than its two store
// transactions. A relay
// killed between tracking and relaying leaves the pending row behind: at
// its next start (Serve) it deletes the emails of every pending row of its
// instance before it accepts mail — the client, which never got its 250,
// sends the message again. The relay holds a lease on its instance name in
// the store while it serves, so that two processes never share one.
//
// A message sent again (a client retrying after a lost reply) gets the same
// Message-ID — derived from its own Message-ID, or from its content when it
// has none — and is recognized: it is relayed as it was first tracked,
// with the same token, and not tracked twice.
//
// # Limits and replies
//
// Every client authenticates (AUTH PLAIN) before MAIL: over TLS after
// STARTTLS, or without TLS from the loopback interface only. Messages are
// bounded (25 MiB by default: 552), as are recipients (452), connections
// (421 at connect) and failed logins (421 after three). Each recipient is
// passed to the upstream server as it comes, so the client gets the
// upstream's answer to each; MAIL goes with the first RCPT, pipelined (RFC
// 2920), and the upstream's refusal of it is the answer to that RCPT. Once
// the message is tracked its content goes upstream in one BDAT chunk (RFC
// 3030), so a message costs the upstream one round trip more than its
// recipients; to a server that offers neither extension the relay sends
// one command at a time, and DATA while it reads the header and tracks.
// Either way the content is sent with CRLF line breaks, as SMTP has them.
package submit
