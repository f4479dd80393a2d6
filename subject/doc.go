// Package subject normalizes e-mail subjects. It finds the base subject, the
// text that remains when the decorations of mail programs are gone (reply and
// forward prefixes in many languages, reply counters, mailing-list tags,
// forward trailers and wrappers); it folds subjects for comparison, splits them
// into words, and recognizes automatic-reply subjects.
//
// Smart matching, conversation threading and the "subject changed" flag compare
// base subjects in folded form:
//
//	subject.Key("RE: AW: [Sales] Angebot 42") == subject.Key("angebot 42")
//
// [Base] also returns an [Info]: whether a reply or forward prefix was removed,
// the reply depth, the list tags removed, the tracking-token-like text it left
// alone, and the old subject named by a "(was: …)" trailer.
//
// # Modes
//
// [RFC5256] is the base-subject extraction of RFC 5256 section 2.1, to the
// letter, as IMAP servers must use it for SORT and THREAD: decode (the caller
// does that), collapse white space, remove "(fwd)" trailers, remove leading
// "re", "fw" and "fwd" prefixes (spaces and one [blob] may come before the
// colon) with the [blob]s in front of them, remove a leading [blob] when text
// remains, unwrap "[fwd: …]", repeat. It passes Dovecot imaptest's SORT and
// THREAD=ORDEREDSUBJECT cases. Only ASCII blob characters and the English
// prefixes count; Options other than Mode and MaxLen do not apply.
//
// [Extended] is the default and the zero value of [Mode]. It runs the same
// steps with these differences:
//
//   - A prefix is any entry of the prefix table below, in any case (full-width
//     letters too), followed by optional white space, an optional counter
//     "(2)" or "^2", an optional [blob] ("[2]" is a counter, anything else a
//     list tag), and a colon: ":", full-width "：" or small "﹕". So "Re[2]:",
//     "Re(2):", "Re^2:", "AW :", "回复：" and "Re: AW: RE: Sv:" chains are
//     prefixes.
//   - White space is any Unicode white space; invisible bidi marks,
//     zero-width spaces, word joiners and byte-order marks are removed.
//   - A [blob] may contain any characters but brackets.
//   - A leading [blob] that holds a tracking token ("[Ticket#123]",
//     "[#123]", "[rt.example.com #42]", "[CRM:0001001]", "[ ref:…:ref ]") is
//     kept: the prefixes and list tags around it are removed and the token
//     blobs are put, in order and separated by spaces, in front of the rest.
//     "[Ticket#1] Re: x", "Re: [Ticket#1] x" and "[list] [Ticket#1] x" all
//     have the base "[Ticket#1] x". Tokens are claims for package token to
//     check; two tickets with the same subject must not compare equal here.
//   - A trailing "(was: …)", "(was …)" or "[was: …]" after a non-empty
//     subject is removed and its text reported in Info.Was (see below).
//   - "[" + any forward prefix + ":" … "]" is a forward wrapper ("[WG: x]").
//
// Both modes keep RFC 5256's rule for other leading blobs: a leading [blob] is
// removed when text remains after it, so "[USRP-users] x", "[EXTERNAL] x" and
// "[PATCH v2 3/5] can: fix" lose the blob (patch revisions of one series then
// compare equal), while a lone "[xyz]" stays. Info.Tags lists what went.
//
// # The prefix table
//
// Extended mode knows these prefixes; [ReplyPrefixes] and [ForwardPrefixes]
// return them. Sources: RFC 5256, Wikipedia's list of e-mail subject
// abbreviations, Outlook, Thunderbird, MailCore2, neomutt, and real list mail.
//
//	language              reply                         forward
//	English, RFC 5256     Re                            Fw, Fwd
//	German                AW, Antwort                   WG, Weitergeleitet
//	Dutch                 Antw                          Doorst
//	Danish, Norwegian     SV, Svar                      VS
//	Swedish               SV, Svar                      VB
//	Finnish               (VS: see below)               VL
//	French                Ref, Réf, Réf., Rép, Rép.     TR, Trans
//	Italian               R, RIF                        I
//	Spanish               (Re)                          RV
//	Portuguese            RES, Resp                     ENC
//	Polish, Czech         Odp                           PD
//	Turkish               YNT                           İLT, ILT
//	Greek                 ΑΠ, ΣΧΕΤ                      ΠΡΘ
//	Hebrew                תגובה                         הועבר
//	Arabic                رد                            إعادة توجيه
//	Russian               Ответ                         Переслать
//	Chinese, simplified   回复, 答复                    转发
//	Chinese, traditional  回覆, 回復                    轉寄, 轉發
//	Japanese              返信                          転送
//	Korean                회신, 답장, 답신              전달
//	GBK read as Latin-1   »Ø¸´, ´ð¸´                    ×ª·¢
//
// The last row is mojibake seen on real lists: 回复, 答复 and 转发 sent as
// unlabeled GBK bytes and read as ISO-8859-1.
//
// VS means "forward" to Danish and Norwegian Outlook and "reply" (Vastaus) to
// Finnish Outlook; the table says forward. Add "VS" to
// Options.ExtraReplyPrefixes to make it a reply: extra reply prefixes override
// built-in forward prefixes.
//
// Single letters are risky: Italian Outlook writes "R:" for replies and "I:"
// for forwards, so Extended mode removes "R:" and "I:" (never "R" or "I"
// without a colon), and a subject such as "I: robot" loses its "I:". Short
// abbreviations such as "TR:", "RV:", "PD:" or "REF:" can collide with real
// words the same way. Remove such entries with Options.ExcludePrefixes; add
// your own with Options.ExtraReplyPrefixes and Options.ExtraForwardPrefixes.
//
// # What is deliberately not removed
//
// A prefix is a word from the table, not "any short word before a colon", so
// topic and product words stay: "Economist: …", "OT: …", "REQ: …", "BUG: …",
// "X440: …", "RFNOC: …", "can: m_can: …" and imaptest's "Ad: Re: …" (nothing
// after a non-prefix is removed either). Peers that use patterns strip these.
//
// Also kept: prefixes without a colon ("Re x"); prefixes after the start
// ("Map apps Re: whoa" is a new subject); trailing blobs ("Printer broken
// [urgent]"); tracking tokens anywhere (Extended mode; see above); and
// automatic-reply prefixes: "Automatic reply: Re: x" is a message from a
// program, not a reply by a person, so [Normalizer.AutoReply] detects it and
// Base leaves it alone.
//
// # "(was: …)"
//
// "New topic (was: Old topic)" announces a new subject. Extended mode removes
// the trailer, so "Re: New topic (was: Old topic)" and the later "Re: New
// topic" have the same base, and reports "Old topic" in Info.Was for callers
// that want to link the new subject to the old conversation. In the
// SpamAssassin ham corpus, 35 replies whose base differs from their thread
// root's name that root's subject in Info.Was; the corpus test counts them.
//
// # Reply depth
//
// Info.Depth adds, over the reply prefixes removed, each prefix's counter
// (Re[3]:, Re(3):, Re^3:, Re [3] :), or 1 for a prefix without one; a counter
// of 0 counts 1. Forward prefixes, "(fwd)" trailers and "[fwd: …]" wrappers
// add nothing. So "Re: Re: x" has depth 2, "Re: Re[3]: x" 4, "Fwd: Re: x" 1.
//
// # Folding and words
//
// [Fold] gives the comparison form: NFKC, Unicode full case folding, white
// space and control characters collapsed to one space and trimmed, format
// characters removed. It returns its argument without allocating when it is
// already folded, and has fast paths for ASCII and common scripts.
//
// [Words] and [AppendWords] split folded text into runs of letters, digits and
// marks. Chinese and Japanese, written without spaces, become overlapping
// character bigrams ("打印机故障": 打印 印机 机故 故障), as CJK search engines
// index them: single characters would make unrelated subjects share most of
// their words, whole runs would make one changed character lose the match.
// Korean uses spaces and is split like Latin text.
//
// # Hostile input
//
// Subjects are written by strangers. No function panics. [Normalizer.Base]
// reads at most Options.MaxLen bytes ([DefaultMaxLen], 4 KiB, unless set),
// cut at a rune boundary, and reports the cut in Info.Truncated. Its work
// grows linearly with that length: every step removes input (a step counter
// guards this) and no step looks further than a bounded window. Results are valid UTF-8 when the input is; [Fold] and
// [Words] turn invalid UTF-8 into U+FFFD.
//
// # Concurrency
//
// A [Normalizer] is immutable after [New] and safe for concurrent use. The
// package-level functions use a default Normalizer (Extended mode, built-in
// tables) that nothing can modify.
package subject
