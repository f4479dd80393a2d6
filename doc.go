// Package mailcorrelate decides which CRM record an email is regarding.
//
// Every CRM, helpdesk and sales tool that syncs mail must answer, for each
// message, "which case, opportunity or account does this belong to?".
// Microsoft Dynamics 365 answers with four strategies — tracking tokens in
// the subject (CRM:0001001), email headers (In-Reply-To and the Exchange
// Thread-Index), folder-level tracking and "smart matching" on subject and
// recipients. mailcorrelate implements all four behind one interface, chains
// them by precedence, and explains every decision.
//
// # Correlation
//
// An email is correlated when it continues a tracked email — an email the
// CRM already filed under a record — and inherits that email's record:
//
//	raw RFC 5322 ──correlate.ParseMessage──▶ *Message ──Engine.Correlate──▶ Decision
//	Engine.Track(msg, decision.Match) ──▶ Store (tracked email + index keys)
//
// Correlate never writes; Track files the email so replies to it correlate
// too. The Decision names the winning strategy, its confidence, the tracked
// email it matched, every step the chain took and, in audit mode, the
// strategies that disagreed.
//
// # Precedence
//
// Strategies are consulted in order and the first confident match wins:
//
//	stage  strategy                        method (Dynamics correlationmethod)
//	0      folder rule with a record       FolderTracking (library value 100)
//	1      In-Reply-To, then References    InReplyTo (3)
//	2      tracking token in the subject   TrackingToken (4)
//	3      Exchange Thread-Index           ConversationIndex (5)
//	4      smart matching                  SmartMatching (6)
//
// # Packages
//
//	correlate         Message, ParseMessage, Record, Match, Decision,
//	                  Correlator, Chain, Engine, Store — the vocabulary
//	subject           base subjects in many languages, Fold, Words
//	token             tracking tokens: Dynamics format, signed tokens, Stamp
//	header            In-Reply-To/References, Exchange Thread-Index
//	folder            folder-level tracking rules
//	smartmatch        Dynamics' smart matching and an improved mode
//	party             participants resolved to records; the incoming filter
//	store/memstore    the in-memory Store
//	store/sqlstore    SQLite and PostgreSQL Store
//	store/storetest   the contract every Store passes
//
// # Wiring
//
// New builds the chain over a Store from an ordered list of stages — the
// built-in strategies (Folder, InReplyTo, Token, Conversation, Smart) and
// custom ones (a Correlator, optionally a correlate.Indexer, through Use or
// StageFunc) alike — and wraps it in the guardrails (package guard).
// Options mirror Dynamics' settings, and their zero values are Dynamics'
// defaults (the ServerSideSync stages, smart matching off):
//
//	store := memstore.New()
//	engine, err := mailcorrelate.New(store, &mailcorrelate.Options{
//		Stages: append(mailcorrelate.ServerSideSync(), mailcorrelate.Smart, mailcorrelate.Use(myRule)),
//	})
//	msg, err := correlate.ParseMessage(r, nil) // err may list problems; msg is still usable
//	d, err := engine.Correlate(ctx, msg)
//	if d.Track() {
//		engine.Track(ctx, msg, d.Match)
//	}
package mailcorrelate
