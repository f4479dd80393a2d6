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
// Correlation alone files whatever names a record. The guardrails live in
// package guard, a decorator around the Chain (guard.Wrap) that an Engine
// runs in its place (NewEngine takes any Correlator that returns whole
// Decisions). It classifies every message first (Decision.Classification:
// bulk, autoreply, bounce, loop; a bounce is correlated through the message
// it returns, Decision.OfOriginal), vets each Match through the chain's one
// hook, Chain.Check (a sender policy, merged and deleted records: a refused
// Match is recorded in its Step and the chain continues), and then sets
// what the Decision must say besides the record: Decision.Action (a person
// reviews conflicting strategies, a closed record opens a new one or
// rejects the mail), Decision.Merged and Decision.Closed, and
// Decision.NoTrack for the classes that are correlated but not tracked.
// correlate does not import guard; the root package wires it by default.
//
// # Concurrency
//
// Message, Match and Decision are values. Chain, Engine and the stores in
// this module are safe for concurrent use once built.
package correlate
