// Package party links the participants of an email — its From, To, Cc and
// Bcc addresses — to the records of a CRM, and decides with them whether an
// incoming email is tracked at all: Dynamics 365's address resolution and
// incoming-email filter.
//
// Correlation (package correlate and its strategies) finds the record an
// email is regarding; party finds who wrote it and to whom, as Dynamics
// fills an email's activity parties.
//
// # Addresses
//
// A [Normalizer] turns a written address into the key a [Directory] is
// searched by: domain lower-cased and converted to ASCII with IDNA, local
// part lower-cased, display name ignored; optionally subaddress tags
// ("alice+crm@") stripped and provider rules (Gmail ignores dots) applied.
// Hostile input — no "@", 2,000-character addresses, control characters,
// scripts mixed inside one label — is an error value matching
// [ErrBadAddress], never a panic.
//
// # Resolution
//
// A [Resolver] resolves a message's participants against a [Directory],
// the caller's address book: [MemDirectory] in memory, loaded from JSON
// Lines by [LoadDirectory], or a database behind the one-method interface
// (and [BatchDirectory] to look all the addresses of a message up in one
// query). All addresses of a message are normalized first and looked up
// together:
//
//   - From resolves to the first active record in the order SystemUser,
//     Contact, Account, Lead, Equipment, Team, Business unit, then other
//     email-enabled types ([DefaultOrder], configurable). An email with
//     several authors ("From: a1, a2") has them all resolved by that rule:
//     the first is the sender (Resolution.From), the others are in
//     Resolution.OtherFrom; none is dropped.
//   - To, Cc and Bcc resolve to every matching active record.
//   - Options.UnresolveAmbiguous leaves an address that matches several
//     records unresolved, as Dynamics' setting of the same name.
//   - Unresolved addresses are listed. [Resolver.CreateSender] offers
//     every unresolved author to the caller's NewContact hook; the library
//     never invents records.
//
// # The incoming-email filter
//
// A [Filter] is a mailbox's incoming-email filter: [All],
// [ResponsesToTrackedEmail] (the default), [FromCRMRecords],
// [FromEmailEnabledRecords] or [None]. Dynamics filters before it
// correlates; here [Filter.Accept] reads the correlation Decision and the
// Resolution and returns a [Verdict]: track or not, and why. Email tracked
// by a folder-level tracking rule is tracked whatever the filter, as in
// Dynamics. [Mailboxes] checks the filter of every recipient that has a
// mailbox and names the one that accepted (Dynamics' accepting entity).
//
// A typical pipeline:
//
//	res, err := resolver.Resolve(ctx, msg)
//	d, err := engine.Correlate(ctx, msg)
//	v := filter.Accept(msg, d, res)
//	if v.Track {
//		resolver.CreateSender(ctx, msg, &res) // contacts only for tracked email
//		engine.Track(ctx, msg, d.Match)
//	}
//
// # Helpers for strategies
//
// [Resolver.TookPart] (and [Resolver.SenderPolicy], its hook form) tells a
// strategy whether a sender of an email (any From address, or Sender) took
// part in a tracked conversation: by address, as the same record, as the
// record the email is filed under, or as a colleague at the same customer
// account. [Organization] names the organization of an address by its
// registrable domain (golang.org/x/net/publicsuffix), and none for a
// freemail provider's ([IsFreemail]): what a colleague has in common
// without a directory.
// [Resolver.SameAccount] finds a customer account shared by two groups of
// addresses, evidence for smart matching.
//
// # Concurrency
//
// Normalizer, Resolver, MemDirectory and Filter are safe for concurrent use.
package party
