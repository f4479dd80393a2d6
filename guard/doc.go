// Package guard protects correlation from the mail that hurts CRMs and
// helpdesks most: out-of-office ping-pong between two systems, bounces filed
// as customer replies, mail that loops back, a stranger's email carrying
// another customer's token, replies landing on merged or closed records
// (see the peer survey: Zammad #5064, FreeScout #2445, osTicket #1041, RT
// PR #345, Zammad #377 and #983).
//
// A [Guard] is a decorator around a correlate.Chain (Wrap): it classifies
// every message, vets each Match through the chain's Check hook (the
// [SenderPolicy], the [RecordResolver]), applies the [ConflictPolicy] and
// the [ClosedPolicy] to the winner, watches for loops ([LoopDetector]) and
// says which classes are not tracked. correlate.NewEngine runs it in place
// of the chain. The package provides the hooks' default implementations:
//
//   - [Classifier]: Normal, Bulk, AutoReply, Bounce
//     or Loop, with Evidence, from RFC 3834 Auto-Submitted, X-Autoreply,
//     X-Autorespond, Precedence, List-Id with List-Unsubscribe, RFC 3464
//     delivery status notifications, mailer-daemon senders, empty
//     Return-Paths, out-of-office subjects in the languages of the subject
//     package, and this system's own loop marker. For a bounce it reads the
//     returned message (message/rfc822, text/rfc822-headers, or the header
//     block a plain-text bounce quotes) so the Engine correlates the bounce
//     with the message that failed. Bodies are read only when the message
//     was parsed with correlate.ParseOptions.KeepBody; headers alone still
//     classify most bounces, without their original.
//   - [Marker]: a keyed loop-marker header field for outgoing mail; mail
//     coming back with it is a Loop.
//   - [RateWindow], a LoopDetector: a per-sender, per-record
//     sliding window that flags ping-pong (by default more than 20 messages
//     within two hours, as Odoo).
//   - [ParticipantPolicy] and [AnyOf], SenderPolicy values: a
//     token (or, if configured, a header) match is accepted only when a
//     sender took part in the tracked conversation, is a colleague of a
//     participant at the same organization (registrable domain, not a
//     freemail or the organization's own), the email is outgoing, or a
//     caller hook says yes; the Evidence says which.
//     [NewParticipantPolicy] decides as ParticipantPolicy and remembers the
//     organizations of the domains it met (the root package's New uses it).
//   - [States], a RecordResolver in memory: merged records
//     followed to their survivor, closed and deleted records.
//
// # Wiring
//
// The root package wires all of it by default (mailcorrelate.New). By hand:
//
//	states := &guard.States{}
//	g := guard.Wrap(&correlate.Chain{Correlators: strategies}, &guard.Options{
//		Classifier:   guard.New(&guard.Options{Marker: marker}),
//		Loops:        guard.NewRateWindow(nil),
//		SenderPolicy: guard.ParticipantPolicy, // token matches only, by default
//		Records:      states,
//		OnClosed:     guard.ClosedNew,
//	})
//	engine := correlate.NewEngine(store, g, nil)
//	msg, _ := correlate.ParseMessage(r, &correlate.ParseOptions{KeepBody: true})
//	d, _ := engine.Correlate(ctx, msg)
//	if d.Track() { // false for auto-replies, bounces and loops
//		engine.Track(ctx, msg, d.Match)
//	}
//	if !d.Classification.NoAutoResponse {
//		// only now may the helpdesk send its acknowledgement
//	}
//
// # Concurrency
//
// Classifier, Marker and the policies keep no state; RateWindow and States
// lock their own. All are safe for concurrent use. The package has no
// global mutable state.
package guard
