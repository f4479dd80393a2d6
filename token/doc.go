// Package token implements tracking tokens: the subject-line tokens of
// Microsoft Dynamics 365 (CRM:0001001), compatible with Dynamics, and an
// optional signed form that cannot be forged.
//
// A token is stamped on the subject of outgoing mail; a reply carrying it is
// correlated with the tracked email that had it, and inherits its record.
// Dynamics calls this its most accurate correlation, and it is also its
// weakest point: tokens are sequential, guessable, repeat after 999, and
// anyone can paste one into a subject. This package keeps the format and
// closes those holes.
//
// # Structure
//
// A [Format] describes a deployment's tokens, with Dynamics' defaults when
// zero:
//
//	CRM:  0   001   001
//	│     │   │     └── per-user message counter (CounterDigits, default 3)
//	│     │   └──────── user number = Base + user ordinal (UserDigits, default 3)
//	│     └──────────── online/offline designator: 0 online, 1 offline
//	└────────────────── prefix, separator included (default "CRM:")
//
// The first token of the first user is CRM:0001001; with Base 500 the first
// user is 501 (CRM:0501001). A [Generator] issues tokens from per-user
// counters kept in the store's sequences, so workers sharing a store never
// issue the same number. As in Dynamics the counter runs 001 … 999, 000,
// 001 …, so a user's 1000th token repeats the first; Format.Widen lets the
// counter grow instead (CRM:00011000), and the [Correlator] resolves the
// duplicates of deployments that cannot widen.
//
// [Stamp] appends a token to a subject within Dynamics' 255-character
// limit, shortening the subject and never the token. [Format.Find] finds the
// tokens of a subject as mail programs leave them (case changed, moved after
// a reply prefix, bracketed) without reading other systems' numbers
// ([Ticket#2021…], [#123], ref:_00D…:ref) or digits inside words as tokens.
//
// # Prefix history
//
// Dynamics keeps the old prefixes when the prefix changes, so replies to
// mail sent before the change still correlate. Format.History lists them,
// newest first. Tokens are indexed under their digits alone (KindToken,
// [Token.Key]): a reply carrying an old prefix finds the email tracked under
// the new one and the other way round. This is sound because the per-user
// counters do not restart when the prefix changes; two deployments that
// share a store must be told apart by Base, as in Dynamics, not by prefix.
//
// # Signed tokens
//
// With Format.Keys set, tokens carry a signature: "-" and SignatureLen
// characters of Crockford base32 (digits and upper-case letters without I,
// L, O, U; read in any case, I and L as 1, O as 0) of HMAC-SHA-256 over the
// digits:
//
//	CRM:0001001-7K3QX9MD
//
// The visible shape stays a prefix and a run of characters mail programs
// leave alone, 20 characters in all by default (Dynamics' trackingtoken
// column holds 50). A token that was never issued fails with
// ErrBadSignature, and the Correlator answers no record with the Evidence
// "bad signature"; an unsigned token is refused too unless
// Options.AcceptUnsigned is set for a migration. The prefix is not signed,
// so prefix changes keep signatures valid. Keys rotate: Keys[0] signs, every
// key verifies.
//
// Each signature character holds 5 bits. An attacker who does not know a
// key can only guess; each forged email succeeds with probability
// k × 2^(−5 × SignatureLen) for k accepted keys:
//
//	SignatureLen  bits  odds per forged email (one key)
//	 6            30    1 in 1.1 × 10^9
//	 8 (default)  40    1 in 1.1 × 10^12   (a million tries: 1 in 1.1 million)
//	10            50    1 in 1.1 × 10^15
//	13            65    1 in 3.7 × 10^19
//	20           100    1 in 1.3 × 10^30
//
// Guesses cannot be checked offline: the attacker learns of a success only
// through what the CRM does with the correlated email. Signing proves
// that a token was issued, not who may use it: a participant who received a
// token can still paste it into another mail. The signature covers the
// digits, so a token issued twice after a counter roll-over has the same
// signature both times; use Widen with signing. Against pasted tokens, set a
// Options.Policy such as guard.ParticipantPolicy, or let the guard around
// the chain check the winning token (guard.Options.SenderPolicy).
//
// # Correlation
//
// [New] returns a [Correlator] (method TrackingToken, strategy "token") that
// is also a [correlate.Indexer]: a [correlate.Engine] indexes every tracked
// email's tokens through it. A plain token hit has confidence High, a
// verified signed token Certain. Unknown, unsigned, badly signed and refused
// tokens are no opinion, with Evidence saying why, so the Decision explains
// them.
//
// # Divergences from Dynamics
//
//   - Dynamics truncates a user number that does not fit its digits; the
//     Generator refuses it (ErrUserRange), since a truncated number collides
//     with another user's tokens.
//   - Dynamics' exact parsing rules are not documented. Find accepts any
//     configured prefix in any case, ASCII digits of the configured length
//     or of an earlier layout (Format.LayoutHistory, which keeps the tokens
//     issued before the digit settings changed recognizable, as the prefix
//     history does for prefixes) starting with the designator 0 or 1,
//     anywhere in the subject.
//   - Stamp counts length in UTF-16 code units, as .NET does, so supplementary
//     characters count two.
//   - Dynamics (as documented for CRM 3.0) takes the most recent email
//     carrying a token; after a roll-over that is often another customer's
//     case. The Correlator prefers the emails the sender took part in and
//     reports the ambiguity.
//   - Dynamics looks tokens up by the whole string; the Correlator looks
//     them up by their digits, so the prefix history works both ways.
//
// # Concurrency
//
// Format, Token and Found are values. Correlator and Generator are safe for
// concurrent use once built, if their Index and Sequencer are.
package token
