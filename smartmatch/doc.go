// Package smartmatch correlates an email with a tracked email by the
// similarity of their subjects and participants (method SmartMatching). It
// is the last strategy of the chain, for mail that carries no tracking token
// and no usable headers: the Email Router case, POP3, a mail program that
// dropped In-Reply-To. Its [Correlator] has two modes, chosen by
// [Options].Mode:
//
//   - [Dynamics] re-implements Dynamics 365's smart matching, for users
//     migrating from it who need its behaviour, and as the baseline the
//     other mode is measured against;
//   - [Improved], the default, is measurably more precise.
//
// The Correlator is also a [correlate.Indexer]: a [correlate.Engine] that has
// it in its chain indexes every tracked email with the keys of the configured
// mode.
//
// # Dynamics mode
//
// As in Dynamics (EmailHashBase), each email is reduced to hashes:
//
//   - subject words: every match of HashFilterKeywords (a .NET regular
//     expression, by default ^[\s]*([\w]+\s?:[\s]*)+, which removes leading
//     "RE:", "FW: RE:", "AW :" …) is removed from the subject; the rest is
//     split at white space and its first HashMaxCount words (20) are hashed,
//     case ignored. .NET's \w and \s are Unicode classes, Go's are ASCII;
//     [CompileFilter] translates, so "ΑΠ:" and "Ответ:" go as in Dynamics;
//   - addresses: the first HashMaxCount unique addresses of From, Sender, To,
//     Cc and Bcc.
//
// A tracked email at most Window (90 days) older than the message matches
// when, for n and m subject hashes and the default settings in brackets,
//
//	|n − m| ≤ HashDeltaSubjectCount                      (0)
//	shared subject hashes ≥ max(n, m) − HashDeltaSubjectCount, and ≥ 1
//	shared addresses ≥ HashMinAddressCount               (2)
//
// This formalizes Microsoft's "the same count of subject hashes and at
// least two matching recipient hashes" (reference notes, §3.1): at delta 0
// both subjects have the same words in any order, "Re: hello" matching
// "Hello"; at delta 1 one word may be added, dropped or replaced. When
// several tracked emails match, the newest wins (Microsoft documents no
// tie-break). A match has confidence correlate.Weak. So, as in Dynamics,
// another customer's "Service Details" to the same two service reps, or HR's
// next "New Hire" to the same manager, joins the first one's record.
//
// Where Dynamics is undocumented or this package differs:
//
//   - the hash is FNV-1a 32-bit over the lower-cased UTF-8 of the word
//     (Dynamics keeps 32-bit integers; its function is not published), and
//     words are separated by Unicode white space;
//   - addresses are kept and compared as normalized text, and include Sender,
//     because a tracked email keeps one participant list;
//   - candidates come from the index, never from a scan. A match has all but
//     HashDeltaSubjectCount of the message's words, so it is under one of its
//     HashDeltaSubjectCount+1 rarest words; it has HashMinAddressCount of its
//     k addresses, so it is under one of its k−HashMinAddressCount+1 rarest
//     addresses. The counts of the keys decide which group to read (the
//     words are counted first, longest first, and the addresses only when no
//     few words make a small group), and at most MaxCandidates tracked emails
//     are examined, rarest key and newest first.
//     Dynamics examines every candidate of its window, so on subjects and
//     addresses that thousands of emails share this package may miss an
//     older match Dynamics would find.
//
// # Improved mode
//
// Improved mode answers the same question with the evidence Dynamics
// throws away:
//
//  1. The base subject. The subject package removes reply and forward
//     prefixes in many languages, counters, list tags and "(was: …)"
//     trailers. Tracking-token-like text ("CRM:0001001", "[Ticket#123]") is
//     set aside: a token on one side only (a stamped reply to an unstamped
//     email) does not make subjects differ, two sets of tokens that share
//     none do (two tickets), and a subject that is only a token is left to
//     package token. The rest is folded (subject.Fold) and every run of
//     characters that are not letters, digits or marks becomes one space:
//     the comparison text.
//  2. Fresh messages. A message whose subject has no reply or forward prefix
//     starts a new conversation and is not matched, unless MatchFresh is set:
//     form letters ("Service Details", "New Hire") are sent afresh for each
//     record, replies say "Re:".
//  3. Participants. The receiving mailbox (Message.Mailbox) and
//     OwnAddresses (addresses, or "@domain" for a whole domain) never count.
//     Hub addresses, on at least HubMinCount tracked emails and more than
//     HubShare of all of them (a mailing list, a shared queue; measured with
//     Index.Count), do not count as overlap.
//  4. Candidates, through the index only. First the tracked emails of the
//     Window with the same comparison text (one KindSubject key); when none
//     qualifies, the newest tracked emails of each remaining participant
//     (KindAddress keys), which finds edited subjects. Each step examines at
//     most MaxCandidates. A comparison text carried by more than
//     MaxCandidates tracked emails is common ("Hello") and is looked for
//     among the participants' emails only.
//  5. Qualifying. The normalized Levenshtein similarity of the comparison
//     texts, 1 − distance/length in runes (github.com/agnivade/levenshtein),
//     must reach MinSimilarity (0.9), their numbers must be equal ("order
//     1234" is not "order 1235"), and texts longer than 256 runes must be
//     equal. The candidate must share MinOverlap (1) addresses that are
//     neither own nor hubs, one of them on the far side of the message or of
//     the candidate (the sender of incoming mail, a recipient of outgoing
//     mail): a service rep who received both emails links nothing. When it
//     shares only hubs (a first-time replier writes to the list alone), an
//     equal base subject of at least HubSubjectWords words (4) that is not
//     common qualifies at 0.7 times the score.
//  6. Choosing. Candidates with an equal comparison text come before similar
//     ones, and candidates with a record before those without. The score is
//     similarity × 2^(−age/HalfLife) (age measured from the message's Date,
//     HalfLife 180 days); the best wins, the newest on a tie.
//  7. The guard against generic subjects. If another record's tracked email
//     in the same group shares any address with the message besides own
//     addresses (hubs included), Correlate abstains and names both: the same
//     base subject with the same people, tracked under two records, is
//     ambiguous, and guessing is how Dynamics merges cases.
//  8. Confidence. Likely × score (× 0.8 for a fresh message): at most
//     correlate.Likely, below the header and token strategies. A match below
//     MinConfidence (correlate.Weak) is an abstention that names it. The
//     Evidence of a match names the shared addresses, the hubs set aside and
//     the runner-up: the closest candidate of another record and why it
//     lost. SubjectChanged reports a similar rather than equal base subject.
//
// # Keys and memory
//
// The Indexer adds the keys of the configured mode only:
//
//	mode      keys per tracked email                      typical
//	Dynamics  one KindWord per distinct hash of the first   8–12
//	          HashMaxCount words, one KindAddress per
//	          address of the first HashMaxCount (≤ 40)
//	Improved  one KindSubject, one KindAddress per          2–4
//	          participant that is not own (≤ 1 +
//	          MaxAddresses)
//
// KindAddress keys hold the address itself, so keys written in one mode are
// found by the other. In BenchmarkMemory's synthetic CRM (200,000 tracked
// emails in memstore, the organization's domain in OwnAddresses), a tracked
// email takes 273 bytes with its Message-ID key alone, 350 bytes with
// Improved mode's keys (3.0 keys per email in all) and 437 bytes with
// Dynamics mode's (9.1 keys per email).
//
// # Accuracy
//
// TestAccuracy replays real mailing-list threads (../shared/corpora: notmuch,
// usrp-users, SpamAssassin ham) with In-Reply-To, References and Thread-Index
// removed: the first message of each thread is tracked under its own record,
// every other one is correlated by smart matching alone and tracked under the
// record it matched. Scored against notmuch's header-based threads, Improved
// mode filed 98.6% of the replies it matched correctly (100% of those outside
// one thread notmuch fused from two conversations) and Dynamics mode 93.2%,
// with recall 61.1% and 58.1%.
//
// # Concurrency
//
// A Correlator is safe for concurrent use. Its only mutable state is the
// cached number of tracked emails used for hub detection (Options.HubRefresh),
// kept in atomics.
package smartmatch
