// Package correlate is the core vocabulary of mailcorrelate: the parsed
// [Message], the [Record] an email is regarding, the [Correlator] strategies
// implement, the [Chain] that orders them by precedence, the [Decision] that
// explains the outcome, and the [Engine] and [Store] that remember tracked
// email. It imports no other package of this module; strategies (token,
// header, folder, smartmatch) and stores (memstore, sqlstore) build on it.
//
// # Data flow
//
//	raw RFC 5322 ──ParseMessage──▶ *Message ──Engine.Correlate──▶ Decision
//	                                           (Chain, in precedence order)
//	Engine.Track(msg, match) ──▶ Store.Put(Tracked + Keys from every Indexer)
//
// Correlate never writes. Track files an email under a record; each strategy
// that needs an index implements [Indexer] and contributes [Key]s (the
// Message-ID key is always indexed), so later replies can be looked up.
//
// # Precedence
//
// A [Chain] consults its correlators in slice order and the first confident
// Match wins. The default chain of the root package follows Dynamics 365:
//
//	stage  strategy                      method
//	0      folder rule with a record     FolderTracking
//	1      In-Reply-To, References       InReplyTo (3)
//	2      tracking token in subject     TrackingToken (4)
//	3      Exchange Thread-Index         ConversationIndex (5)
//	4      smart matching                SmartMatching (6)
//
// # Writing a strategy
//
// A strategy is any [Correlator]: return the zero Match when it has no
// opinion, an error only when it could not decide. Give it a String method
// for its name in Steps; implement [Indexer] when it needs keys; use [Func]
// for a quick one.
//
// # Guardrails
//
// Correlation alone files whatever names a record. The guardrails decide
// what else a Decision must say, each a hook with a default in package guard:
//
//   - a [Classifier] (EngineOptions.Classifier) classifies every message
//     before it is correlated: Normal, Bulk, AutoReply, Bounce or Loop
//     (Decision.Classification). A bounce whose returned message could be
//     read is correlated through that message (Decision.OfOriginal). The
//     classes in EngineOptions.Untracked (by default AutoReply, Bounce and
//     Loop) are correlated but not tracked: Decision.NoTrack says why and
//     Decision.Track reports false, so they never become correlation
//     targets;
//   - a [LoopDetector] (EngineOptions.Loops) watches the traffic per sender
//     and record and turns ping-pong into a Loop;
//   - a [SenderPolicy] (Chain.SenderPolicy) refuses a match, for the
//     methods in Chain.PolicyMethods (TrackingToken by default), when the
//     sender did not take part in the tracked conversation; the refusal is
//     recorded in its Step and the chain continues;
//   - a [ConflictPolicy] (Chain.OnConflict): the winner stands, or a person
//     reviews (Decision.Action Review);
//   - a [RecordResolver] (Chain.Resolver) follows merged records to their
//     survivor and reports closed ones, which a [ClosedPolicy]
//     (Chain.OnClosed) correlates, sends to a new record (Action OpenNew) or
//     rejects (Action Reject).
//
// Without them an Engine and a Chain behave exactly as before, and a Normal
// message costs no allocation more with them.
//
// # Concurrency
//
// Message, Match and Decision are values. Chain, Engine and the stores in
// this module are safe for concurrent use once built.
package correlate
