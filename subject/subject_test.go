package subject_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/subject"
)

// baseCase is one row of a Base table. Zero Info fields mean "none".
type baseCase struct {
	name    string
	in      string
	want    string
	reply   bool
	forward bool
	depth   int
	tags    []string
	tokens  []string
	was     string
	reason  string
}

func runBaseCases(t *testing.T, n *subject.Normalizer, cases []baseCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, info := n.Base(tt.in)
			assert.Equal(t, tt.want, got, "Base(%q): %s", tt.in, tt.reason)
			assert.Equal(t, tt.reply, info.Reply, "Base(%q).Reply: %s", tt.in, tt.reason)
			assert.Equal(t, tt.forward, info.Forward, "Base(%q).Forward: %s", tt.in, tt.reason)
			assert.Equal(t, tt.depth, info.Depth, "Base(%q).Depth: %s", tt.in, tt.reason)
			assert.Equal(t, tt.tags, info.Tags, "Base(%q).Tags: %s", tt.in, tt.reason)
			assert.Equal(t, tt.tokens, info.Tokens, "Base(%q).Tokens: %s", tt.in, tt.reason)
			assert.Equal(t, tt.was, info.Was, "Base(%q).Was: %s", tt.in, tt.reason)
			again, _ := n.Base(got)
			assert.Equal(t, got, again, "Base is not idempotent on %q", tt.in)
		})
	}
}

func TestBaseExtended(t *testing.T) {
	runBaseCases(t, subject.New(nil), []baseCase{
		// Plain subjects.
		{name: "Plain", in: "Printer broken", want: "Printer broken", reason: "nothing to remove"},
		{name: "Empty", in: "", want: "", reason: "empty stays empty"},
		{name: "Blank", in: " \t ", want: "", reason: "white space only is an empty subject (RFC 5256 step 2)"},
		{name: "OnlyPrefix", in: "Re:", want: "", reply: true, depth: 1, reason: "a prefix alone leaves an empty base"},

		// Separators and counters.
		{name: "NoSpaceAfterColon", in: "RE:x", want: "x", reply: true, depth: 1, reason: "the colon ends the prefix; no space is needed"},
		{name: "SpaceBeforeColon", in: "Re : x", want: "x", reply: true, depth: 1, reason: "RFC 5256 allows *WSP before the colon"},
		{name: "NBSPBeforeColon", in: "RE\u00a0: x", want: "x", reply: true, depth: 1, reason: "French typography puts a no-break space before the colon"},
		{name: "FullWidthColon", in: "Re：x", want: "x", reply: true, depth: 1, reason: "CJK mail programs write the full-width colon U+FF1A"},
		{name: "SmallColon", in: "Re﹕x", want: "x", reply: true, depth: 1, reason: "U+FE55 small colon is a colon too"},
		{name: "CounterBracket", in: "Re[3]: x", want: "x", reply: true, depth: 3, reason: "The Bat! writes Re[n]: for the n-th reply"},
		{name: "CounterParen", in: "Re(2): x", want: "x", reply: true, depth: 2, reason: "Thunderbird's Re(n): counter"},
		{name: "CounterCaret", in: "Re^2: x", want: "x", reply: true, depth: 2, reason: "Majordomo's re^n counter"},
		{name: "CounterSpaced", in: "Re [4] : x", want: "x", reply: true, depth: 4, reason: "spaces around a counter blob are allowed"},
		{name: "CounterZero", in: "Re[0]: x", want: "x", reply: true, depth: 1, reason: "a zero counter still is one reply"},
		{name: "CounterHuge", in: "Re[99999999999999999999]: x", want: "x", reply: true, depth: 999999, reason: "counters are capped, never overflow"},
		{name: "CounterAndTag", in: "Re(2)[list]: x", want: "x", reply: true, depth: 2, tags: []string{"list"}, reason: "a counter and a list blob before the colon"},
		{name: "TagInPrefix", in: "Re[USRP-users]: x", want: "x", reply: true, depth: 1, tags: []string{"USRP-users"}, reason: "RFC 5256 subj-refwd allows a blob before the colon"},

		// Depth and chains.
		{name: "Stacked", in: "Re: Re: x", want: "x", reply: true, depth: 2, reason: "stacked prefixes count one each"},
		{name: "StackedCounter", in: "Re: Re[3]: x", want: "x", reply: true, depth: 4, reason: "1 + 3"},
		{name: "MixedChain", in: "Re: AW: RE: Sv: x", want: "x", reply: true, depth: 4, reason: "clients in different languages alternate"},
		{name: "ReplyForwardReply", in: "Re: Fw: Re: ALSA packages [RH8]", want: "ALSA packages [RH8]",
			reply: true, forward: true, depth: 2, reason: "forward prefixes add no depth; a trailing blob stays"},
		{name: "Forward", in: "Fwd: x", want: "x", forward: true, reason: "a forward is not a reply"},
		{name: "BatCounters", in: "RE: Re[2]: Wedding plans", want: "Wedding plans", reply: true, depth: 3, reason: "Outlook replying to The Bat! (spamassassin-ham)"},
		{name: "ItalianChain", in: "Re: [USRP-users] R: R: R: UHD and GPUs", want: "UHD and GPUs", reply: true, depth: 4,
			tags: []string{"USRP-users"}, reason: "list tag between prefixes; Italian Outlook R: (usrp-users)"},
		{name: "PortugueseChain", in: "[USRP-users] Re: RES: RES: OFDM peak", want: "OFDM peak",
			reply: true, depth: 3, tags: []string{"USRP-users"}, reason: "Portuguese RES: (usrp-users)"},
		{name: "TurkishSpanish", in: "[USRP-users] Ynt: RV: list confirmation", want: "list confirmation",
			reply: true, forward: true, depth: 1, tags: []string{"USRP-users"}, reason: "Turkish reply to a Spanish forward (usrp-users)"},
		{name: "ChineseStack", in: "Re: [USRP-users]  回复: 回复: TPM on the N310", want: "TPM on the N310",
			reply: true, depth: 3, tags: []string{"USRP-users"}, reason: "stacked 回复 after a list tag (usrp-users)"},
		{name: "ChineseThenRe", in: "[USRP-users] 答复: Re: FPGA build", want: "FPGA build", reply: true, depth: 2,
			tags: []string{"USRP-users"}, reason: "答复 before Re (usrp-users)"},
		{name: "RepeatedTag", in: "[USRP-users]  Re: 回复: [USRP-users] trigger question", want: "trigger question", reply: true, depth: 2,
			tags: []string{"USRP-users"}, reason: "a tag seen twice is reported once"},
		{name: "ExternalTag", in: "[USRP-users] Re: [EXTERNAL] Re: Re: IP locked", want: "IP locked",
			reply: true, depth: 3, tags: []string{"USRP-users", "EXTERNAL"}, reason: "mail-gateway tags are blobs too"},
		{name: "TagWithoutSpace", in: "[USRP-users] Re: [EXTERNAL]N321 drops packets", want: "N321 drops packets", reply: true, depth: 1,
			tags: []string{"USRP-users", "EXTERNAL"}, reason: "subj-blob needs no space after it"},
		{name: "Mojibake", in: "[USRP-users]  Re: ´ð¸´: rfnoc graph error", want: "rfnoc graph error", reply: true, depth: 2,
			tags: []string{"USRP-users"}, reason: "答复 in GBK read as ISO-8859-1 (usrp-users)"},

		// RFC 5256 structures, kept in Extended mode.
		{name: "RFCLeaders", in: "[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", want: "b", reply: true, forward: true, depth: 1,
			tags: []string{"foo", "bar"}, reason: "imaptest sort-subject message 5"},
		{name: "RFCWrappers", in: "re: [fwd: [fwd: re: [fwd: babylon]]]", want: "babylon", reply: true, forward: true, depth: 2,
			reason: "imaptest message 15: nested [fwd: …] wrappers"},
		{name: "WrapperWithPrefix", in: "Re: [FWD: c]", want: "c", reply: true, forward: true, depth: 1, reason: "imaptest message 7"},
		{name: "LoneBlob", in: "[xyz]", want: "[xyz]", reason: "a blob is only removed when text remains (imaptest message 8)"},
		{name: "TwoBlobs", in: "[a] [b]", want: "[b]", tags: []string{"a"}, reason: "the last blob is the base"},
		{name: "TrailerFwd", in: "Budget proposal (fwd)", want: "Budget proposal", forward: true, reason: "(fwd) trailer (Pine)"},
		{name: "LocalizedWrapper", in: "[WG: Angebot]", want: "Angebot", forward: true, reason: "Extended mode unwraps any forward prefix"},
		{name: "ShortWrapper", in: "[I:x]", want: "x", forward: true, reason: "Italian forward wrapper, as short as it gets"},
		{name: "ReplyIsNoWrapper", in: "[Re: x]", want: "[Re: x]", reason: "only forward prefixes wrap"},
		{name: "PatchTag", in: "[PATCH v2 3/5] can: m_can: fix the clock", want: "can: m_can: fix the clock", tags: []string{"PATCH v2 3/5"},
			reason: "RFC 5256 removes any leading blob; 'can:' is not a prefix"},

		// Words that look like prefixes but are not.
		{name: "Economist", in: "Economist: the week ahead", want: "Economist: the week ahead", reason: "a topic word, not a prefix (spamassassin-ham)"},
		{name: "OT", in: "OT: anyone seen this?", want: "OT: anyone seen this?", reason: "off-topic marker is content"},
		{name: "REQ", in: "REQ: newer packages", want: "REQ: newer packages", reason: "a request marker is content"},
		{name: "X440", in: "X440: calibration fails at 3 GHz", want: "X440: calibration fails at 3 GHz", reason: "a product name (usrp-users)"},
		{name: "BUG", in: "BUG: unable to handle page fault", want: "BUG: unable to handle page fault", reason: "a kernel oops title"},
		{name: "Ad", in: "Ad: Re: Ad: Re: Ad: x", want: "Ad: Re: Ad: Re: Ad: x", reason: "imaptest: Ad: is not a prefix, so nothing after it is stripped"},
		{name: "RFNOC", in: "RFNOC: block not found", want: "RFNOC: block not found", reason: "a product name (usrp-users)"},
		{name: "Clinton", in: "Clinton: x", want: "Clinton: x", reason: "a name"},
		{name: "FYI", in: "FYI: x", want: "FYI: x", reason: "FYI is content, unlike in some peers' regexes"},
		{name: "Reply", in: "Reply: x", want: "Reply: x", reason: "not in the table"},
		{name: "Rex", in: "Rex: x", want: "Rex: x", reason: "a word that starts with a prefix is not the prefix"},
		{name: "NoColon", in: "Re x", want: "Re x", reason: "a prefix needs its colon"},
		{name: "Semicolon", in: "Re; x", want: "Re; x", reason: "only colons separate"},
		{name: "DoubleColonWord", in: "dvd::rip on Linux?", want: "dvd::rip on Linux?", reason: "not a prefix"},
		{name: "CJKWord", in: "回复测试: x", want: "回复测试: x", reason: "a CJK word that starts with 回复 is not 回复"},
		{name: "MidSubjectRe", in: "Map apps Re: whoa", want: "Map apps Re: whoa", reason: "prefixes count only at the start"},
		{name: "Antwoord", in: "Antwoord: x", want: "Antwoord: x", reason: "not built in; see Options.ExtraReplyPrefixes"},

		// Tracking tokens are kept and reported.
		{name: "TokenBlobFirst", in: "[Ticket#123] Re: Printer broken", want: "[Ticket#123] Printer broken", reply: true, depth: 1,
			tokens: []string{"Ticket#123"}, reason: "a token blob is kept; the prefix behind it goes"},
		{name: "TokenBlobAfterPrefix", in: "Re: [Ticket#123] Printer broken", want: "[Ticket#123] Printer broken", reply: true, depth: 1,
			tokens: []string{"Ticket#123"}, reason: "same base as the line above"},
		{name: "TokenBlobAlone", in: "Re: [Ticket#123]", want: "[Ticket#123]", reply: true, depth: 1,
			tokens: []string{"Ticket#123"}, reason: "a token can be the whole base"},
		{name: "TokenBlobs", in: "[#117904] Re: [#117896] Re: x", want: "[#117904] [#117896] x", reply: true, depth: 2,
			tokens: []string{"#117904", "#117896"}, reason: "a FreeScout pile-up keeps both numbers (token's job to choose)"},
		{name: "TokenAfterListTag", in: "[USRP-users] [Ticket#1] Re: x", want: "[Ticket#1] x", reply: true, depth: 1,
			tags: []string{"USRP-users"}, tokens: []string{"Ticket#1"}, reason: "list tags go, tokens stay"},
		{name: "RTToken", in: "Re: [rt.example.com #42] Printer", want: "[rt.example.com #42] Printer", reply: true, depth: 1,
			tokens: []string{"#42"}, reason: "Request Tracker's subject tag"},
		{name: "DynamicsToken", in: "RE: Printer broken CRM:0001001", want: "Printer broken CRM:0001001", reply: true, depth: 1,
			tokens: []string{"CRM:0001001"}, reason: "Dynamics puts its token at the end; it is reported, not removed"},
		{name: "SalesforceToken", in: "Re: Printer [ ref:_00D1a2b._5001c3d:ref ]", want: "Printer [ ref:_00D1a2b._5001c3d:ref ]", reply: true, depth: 1,
			tokens: []string{"ref:_00D1a2b._5001c3d:ref"}, reason: "Salesforce thread id"},
		{name: "BugNumberIsTag", in: "[Bug 1030] x", want: "x", tags: []string{"Bug 1030"}, reason: "without # or a prefix-and-digits form a blob is a tag"},
		{name: "NoTokenProduct", in: "Re: X440: timed commands", want: "X440: timed commands", reply: true, depth: 1, reason: "X440: is neither prefix nor token"},

		// (was: …) trailers.
		{name: "Was", in: "Wedding plans (was Re: Ouch...)", want: "Wedding plans", was: "Re: Ouch...", reason: "the new subject is the one before (was …)"},
		{name: "WasColon", in: "Re: Gabber packages (was: Red Hat 8.0 released)", want: "Gabber packages",
			reply: true, depth: 1, was: "Red Hat 8.0 released", reason: "(was: …) with a colon"},
		{name: "WasCapital", in: "[list] Corpus collection (Was: Re: Deployment)", want: "Corpus collection", tags: []string{"list"},
			was: "Re: Deployment", reason: "case does not matter"},
		{name: "WasBrackets", in: "Re: Linking message [was: Re: Patch review]", want: "Linking message",
			reply: true, depth: 1, was: "Re: Patch review", reason: "[was: …] too"},
		{name: "WasNested", in: "Topic C (was Re: Topic B (was RE: Topic A))", want: "Topic C",
			was: "Re: Topic B (was RE: Topic A)", reason: "balanced parentheses: one trailer"},
		{name: "WasAlone", in: "Re: (was: x)", want: "(was: x)", reply: true, depth: 1, reason: "nothing before it: not a trailer"},
		{name: "WasUnbalanced", in: "Maps (was Re: whoa}", want: "Maps (was Re: whoa}", reason: "unbalanced: left alone"},
		{name: "Wasabi", in: "Sushi (wasabi)", want: "Sushi (wasabi)", reason: "'was' must be a word"},

		// White space and invisible characters.
		{name: "Tabs", in: "Re:\tfoo  bar\r\n baz", want: "foo bar baz", reply: true, depth: 1, reason: "tabs and folding become one space (step 1)"},
		{name: "IdeographicSpace", in: "回复：\u3000你好", want: "你好", reply: true, depth: 1, reason: "U+3000 is white space"},
		{name: "BidiMark", in: "\u200fתגובה: שלום", want: "שלום", reply: true, depth: 1, reason: "invisible bidi marks are removed"},
		{name: "ZeroWidth", in: "Re: x\u200b", want: "x", reply: true, depth: 1, reason: "zero-width space is removed"},
		{name: "FoldedHeader", in: "Fwd: Re[2]: Quarterly numbers for the    board", want: "Quarterly numbers for the board",
			reply: true, forward: true, depth: 2, reason: "runs of spaces from header folding collapse (spamassassin-ham)"},

		// Case, width and composition of prefixes.
		{name: "FullWidthLetters", in: "ＲＥ：x", want: "x", reply: true, depth: 1, reason: "full-width Latin letters"},
		{name: "Decomposed", in: "Re\u0301f. : x", want: "x", reply: true, depth: 1, reason: "Réf. in NFD"},
		{name: "GreekLower", in: "σχετ: x", want: "x", reply: true, depth: 1, reason: "case-insensitive in every script"},
		{name: "TurkishDottedI", in: "İLT: x", want: "x", forward: true, reason: "Turkish capital dotted I"},
	})
}

// builtinReply and builtinForward list every built-in prefix with a reason;
// TestBuiltinTablesListed checks that they match the package's tables.
var builtinReply = []struct{ prefix, reason string }{
	{"Re", "English and RFC 5256"},
	{"AW", "German Antwort (Outlook)"},
	{"Antwort", "German (Lotus Notes)"},
	{"Antw", "Dutch Antwoord"},
	{"SV", "Danish, Norwegian, Swedish Svar"},
	{"Svar", "Norwegian, Swedish"},
	{"Ref", "French Référence"},
	{"Réf", "French Référence"},
	{"Réf.", "French Référence, abbreviated"},
	{"Rép", "French Réponse"},
	{"Rép.", "French Réponse, abbreviated"},
	{"R", "Italian Outlook Risposta (single letter: needs the colon)"},
	{"RIF", "Italian Riferimento"},
	{"RES", "Portuguese Resposta"},
	{"Resp", "Portuguese Resposta"},
	{"Odp", "Polish Odpowiedź"},
	{"YNT", "Turkish Yanıt"},
	{"ΑΠ", "Greek Απάντηση"},
	{"ΣΧΕΤ", "Greek Σχετικό"},
	{"תגובה", "Hebrew"},
	{"رد", "Arabic"},
	{"Ответ", "Russian"},
	{"回复", "Chinese (simplified)"},
	{"答复", "Chinese (simplified)"},
	{"回覆", "Chinese (traditional)"},
	{"回復", "Chinese (traditional)"},
	{"返信", "Japanese"},
	{"회신", "Korean"},
	{"답장", "Korean"},
	{"답신", "Korean"},
	{"»Ø¸´", "回复 as GBK bytes read as ISO-8859-1"},
	{"´ð¸´", "答复 as GBK bytes read as ISO-8859-1"},
}

var builtinForward = []struct{ prefix, reason string }{
	{"Fwd", "English and RFC 5256"},
	{"Fw", "English and RFC 5256"},
	{"WG", "German Weitergeleitet (Outlook)"},
	{"Weitergeleitet", "German"},
	{"Doorst", "Dutch Doorsturen"},
	{"VS", "Danish and Norwegian Videresendt (Finnish replies: see Options)"},
	{"VB", "Swedish Vidarebefordrat"},
	{"VL", "Finnish Välitetty"},
	{"TR", "French Transfert"},
	{"Trans", "French Transfert"},
	{"I", "Italian Inoltro (single letter: needs the colon)"},
	{"RV", "Spanish Reenviado"},
	{"ENC", "Portuguese Encaminhado"},
	{"PD", "Polish Prześlij dalej"},
	{"İLT", "Turkish İlet"},
	{"ILT", "Turkish İlet without the dot"},
	{"ΠΡΘ", "Greek Προωθημένο"},
	{"הועבר", "Hebrew"},
	{"إعادة توجيه", "Arabic, two words"},
	{"Переслать", "Russian"},
	{"转发", "Chinese (simplified)"},
	{"轉寄", "Chinese (traditional)"},
	{"轉發", "Chinese (traditional)"},
	{"転送", "Japanese"},
	{"전달", "Korean"},
	{"×ª·¢", "转发 as GBK bytes read as ISO-8859-1"},
}

func TestBuiltinTablesListed(t *testing.T) {
	var reply, forward []string
	for _, p := range builtinReply {
		reply = append(reply, p.prefix)
	}
	for _, p := range builtinForward {
		forward = append(forward, p.prefix)
	}
	assert.ElementsMatch(t, subject.ReplyPrefixes(), reply, "every built-in reply prefix has a test row")
	assert.ElementsMatch(t, subject.ForwardPrefixes(), forward, "every built-in forward prefix has a test row")
}

// TestBuiltinPrefixes strips every built-in prefix in every spelling mail
// programs produce: as written, upper and lower case, with a space before
// the colon, a full-width colon, a counter, after a list tag and in a chain.
func TestBuiltinPrefixes(t *testing.T) {
	type row struct {
		prefix, reason string
		reply          bool
	}
	var rows []row
	for _, p := range builtinReply {
		rows = append(rows, row{p.prefix, p.reason, true})
	}
	for _, p := range builtinForward {
		rows = append(rows, row{p.prefix, p.reason, false})
	}
	for _, r := range rows {
		t.Run(r.prefix, func(t *testing.T) {
			depth := 0
			if r.reply {
				depth = 1
			}
			forms := []struct{ in, why string }{
				{r.prefix + ": Angebot 42", "as written"},
				{strings.ToUpper(r.prefix) + ": Angebot 42", "upper case"},
				{strings.ToLower(r.prefix) + ": Angebot 42", "lower case"},
				{r.prefix + " : Angebot 42", "space before the colon"},
				{r.prefix + "：Angebot 42", "full-width colon"},
				{"[list] " + r.prefix + ": Angebot 42", "after a list tag"},
			}
			for _, f := range forms {
				got, info := subject.Base(f.in)
				assert.Equal(t, "Angebot 42", got, "Base(%q): %s, %s", f.in, r.reason, f.why)
				assert.Equal(t, r.reply, info.Reply, "Base(%q).Reply: %s", f.in, r.reason)
				assert.Equal(t, !r.reply, info.Forward, "Base(%q).Forward: %s", f.in, r.reason)
				assert.Equal(t, depth, info.Depth, "Base(%q).Depth: %s", f.in, r.reason)
			}
			in := "Re: " + r.prefix + "[2]: Re: Angebot 42"
			got, info := subject.Base(in)
			assert.Equal(t, "Angebot 42", got, "Base(%q): in a chain with a counter", in)
			if r.reply {
				assert.Equal(t, 4, info.Depth, "Base(%q).Depth: 1 + 2 + 1", in)
			} else {
				assert.Equal(t, 2, info.Depth, "Base(%q).Depth: forward counters add nothing", in)
			}
			// Without the colon the word is content.
			in = r.prefix + " Angebot 42"
			got, _ = subject.Base(in)
			assert.Equal(t, in, got, "Base(%q): no colon, no prefix", in)
		})
	}
}

func TestBaseRFC5256(t *testing.T) {
	runBaseCases(t, subject.New(&subject.Options{Mode: subject.RFC5256}), []baseCase{
		{name: "Re", in: "Re: x", want: "x", reply: true, depth: 1, reason: "re is a subj-refwd"},
		{name: "FwFwd", in: "FW: Fwd: x", want: "x", forward: true, reason: "fw and fwd"},
		{name: "SpaceBeforeColon", in: "Re :\tx", want: "x", reply: true, depth: 1, reason: "*WSP before the colon; tabs are spaces"},
		{name: "Counter", in: "Re[2]: x", want: "x", reply: true, depth: 2, reason: "[2] is a subj-blob; Info reads it as a counter"},
		{name: "Localized", in: "AW: x", want: "AW: x", reason: "only English prefixes are standard"},
		{name: "ParenCounter", in: "Re(2): x", want: "Re(2): x", reason: "not in the ABNF"},
		{name: "FullWidthColon", in: "Re：x", want: "Re：x", reason: "not in the ABNF"},
		{name: "NBSP", in: "Re\u00a0: x", want: "Re\u00a0: x", reason: "WSP is SP and HTAB only"},
		{name: "NonASCIIBlob", in: "[日本] x", want: "[日本] x", reason: "BLOBCHAR is ASCII"},
		{name: "TokenBlob", in: "Re: [Ticket#1] x", want: "x", reply: true, depth: 1, tags: []string{"Ticket#1"}, reason: "the RFC removes every leading blob"},
		{name: "TokenReported", in: "Re: x CRM:0001001", want: "x CRM:0001001", reply: true, depth: 1, tokens: []string{"CRM:0001001"}, reason: "tokens are reported in both modes"},
		{name: "Was", in: "x (was: y)", want: "x (was: y)", reason: "no (was: …) rule in the RFC"},
		{name: "Wrapper", in: "[fwd: [fwd: x]]", want: "x", forward: true, reason: "step 6, repeated"},
		{name: "LocalizedWrapper", in: "[WG: x]", want: "[WG: x]", reason: "only [fwd: is a wrapper"},
		{name: "WrapperLiteral", in: "[fwd: a] b [c]", want: "b [c]", tags: []string{"fwd: a"}, reason: "step 4 removes the blob before step 6 could look at it"},
		{name: "Ad", in: "Ad: Re: x", want: "Ad: Re: x", reason: "imaptest"},
		{name: "Invisible", in: "\u200bRe: x", want: "\u200bRe: x", reason: "only Extended mode removes invisible characters"},
	})
}

func TestOptions(t *testing.T) {
	tests := []struct {
		name   string
		opts   *subject.Options
		in     string
		want   string
		reply  bool
		reason string
	}{
		{"ExtraReply", &subject.Options{ExtraReplyPrefixes: []string{" Antwoord : "}}, "Antwoord: x", "x", true, "extra prefixes are trimmed and case-insensitive"},
		{"ExtraReplyMultiWord", &subject.Options{ExtraReplyPrefixes: []string{"Antwort an"}}, "ANTWORT  AN: x", "x", true, "multi-word prefixes match across white space"},
		{"ExtraForward", &subject.Options{ExtraForwardPrefixes: []string{"Doorgestuurd"}}, "Doorgestuurd: x", "x", false, "a forward prefix"},
		{"ExtraReplyOverridesForward", &subject.Options{ExtraReplyPrefixes: []string{"VS"}}, "VS: x", "x", true, "Finnish users make VS a reply"},
		{"Exclude", &subject.Options{ExcludePrefixes: []string{"R", "i:"}}, "R: x", "R: x", false, "excluded single-letter prefixes are content"},
		{"ExcludeForward", &subject.Options{ExcludePrefixes: []string{"R", "i:"}}, "I: x", "I: x", false, "the colon in an exclusion is ignored"},
		{"InvalidExtraIgnored", &subject.Options{ExtraReplyPrefixes: []string{"", "[x]", "a:b", "Re(2)"}}, "a:b: y", "a:b: y", false, "entries with brackets or inner colons are ignored"},
		{"RFCIgnoresExtras", &subject.Options{Mode: subject.RFC5256, ExtraReplyPrefixes: []string{"Antwoord"}}, "Antwoord: x", "Antwoord: x", false, "RFC 5256 mode is exact"},
		{"MaxLen", &subject.Options{MaxLen: 10}, "Re: abcdefghij", "abcdef", true, "only the first MaxLen bytes are read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, info := subject.New(tt.opts).Base(tt.in)
			assert.Equal(t, tt.want, got, "Base(%q): %s", tt.in, tt.reason)
			assert.Equal(t, tt.reply, info.Reply, "Base(%q).Reply: %s", tt.in, tt.reason)
		})
	}
	// Options do not leak into the default Normalizer.
	got, _ := subject.Base("Antwoord: x")
	assert.Equal(t, "Antwoord: x", got)
}

func TestTruncation(t *testing.T) {
	long := "Re: " + strings.Repeat("é", 3000) // 6004 bytes
	got, info := subject.Base(long)
	assert.True(t, info.Truncated, "longer than DefaultMaxLen")
	assert.True(t, utf8.ValidString(got), "cut at a rune boundary")
	assert.LessOrEqual(t, len(got), subject.DefaultMaxLen)
	assert.Equal(t, strings.Repeat("é", (subject.DefaultMaxLen-4)/2), got)

	_, info = subject.Base("Re: short")
	assert.False(t, info.Truncated)
}

func TestBaseDoesNotAllocateSubstrings(t *testing.T) {
	for _, s := range []string{"Re: AW: Angebot 42", "RE: Re[2]: Wedding plans", "回复：答复: 你好", "[Ticket#1] Printer"} {
		allocs := testing.AllocsPerRun(100, func() { _ = subject.Key(s) })
		// Key = Fold(Base(s)): Base is a substring; only Fold may allocate.
		b, info := subject.Base(s)
		assert.Contains(t, s, b, "Base(%q) is a substring", s)
		if info.Tokens == nil && subject.Fold(b) == b {
			assert.Zero(t, allocs, "Key(%q) allocates", s)
		}
	}
	allocs := testing.AllocsPerRun(100, func() { _, _ = subject.Base("Re: AW: Angebot 42") })
	assert.Zero(t, allocs, "Base of a plain reply allocates")
}

func TestAutoReply(t *testing.T) {
	builtin := []struct{ prefix, reason string }{
		{"Out of Office", "Outlook"},
		{"Out of Office AutoReply", "Outlook 2003"},
		{"Automatic reply", "Outlook"},
		{"Auto", "Lotus Notes"},
		{"Autoreply", "English"},
		{"Auto-reply", "English"},
		{"Auto Reply", "English"},
		{"Abwesenheitsnotiz", "German Lotus Notes"},
		{"Automatische Antwort", "German Outlook"},
		{"Réponse automatique", "French"},
		{"Respuesta automática", "Spanish"},
		{"Risposta automatica", "Italian"},
		{"Resposta automática", "Portuguese"},
		{"Automatisch antwoord", "Dutch"},
		{"Autosvar", "Swedish, Norwegian"},
		{"Automatisk svar", "Danish"},
		{"Automaattinen vastaus", "Finnish"},
		{"Automatyczna odpowiedź", "Polish"},
		{"Automatická odpověď", "Czech"},
		{"Automatikus válasz", "Hungarian"},
		{"Otomatik yanıt", "Turkish"},
		{"Otomatik yanit", "Turkish without dotless i"},
		{"Αυτόματη απάντηση", "Greek"},
		{"Автоответ", "Russian"},
		{"Автоматический ответ", "Russian"},
		{"תשובה אוטומטית", "Hebrew"},
		{"رد تلقائي", "Arabic"},
		{"自动回复", "Chinese (simplified)"},
		{"自动答复", "Chinese (simplified, Outlook)"},
		{"自動回覆", "Chinese (traditional)"},
		{"自動応答", "Japanese Outlook"},
		{"自動返信", "Japanese"},
		{"자동 회신", "Korean"},
	}
	var listed []string
	for _, b := range builtin {
		listed = append(listed, b.prefix)
		for _, in := range []string{
			b.prefix + ": Re: Angebot 42",
			strings.ToUpper(b.prefix) + " : Angebot 42",
			"[list] " + b.prefix + "：Angebot 42",
		} {
			prefix, ok := subject.AutoReply(in)
			if assert.True(t, ok, "AutoReply(%q): %s", in, b.reason) {
				assert.True(t, strings.HasPrefix(in, prefix), "AutoReply(%q) prefix %q is a prefix of the input", in, prefix)
				assert.Contains(t, []string{" Re: Angebot 42", " Angebot 42", "Angebot 42"}, in[len(prefix):], "AutoReply(%q) rest", in)
			}
		}
	}
	assert.ElementsMatch(t, subject.AutoReplyPrefixes(), listed, "every built-in auto-reply prefix has a test row")

	negatives := []struct{ in, reason string }{
		{"Re: Automatic reply: x", "a reply to an auto-reply is a person writing"},
		{"Automatic reply x", "the colon is required"},
		{"Automatically: x", "a longer word"},
		{"Out of: x", "an incomplete phrase"},
		{"Outlook: x", "not in the table"},
		{"", "empty"},
	}
	for _, n := range negatives {
		_, ok := subject.AutoReply(n.in)
		assert.False(t, ok, "AutoReply(%q): %s", n.in, n.reason)
	}

	for _, in := range []string{"Réponse automatique\u00a0: x", "Out\tof\u00a0Office: x", "  Automatic reply: x"} {
		_, ok := subject.AutoReply(in)
		assert.True(t, ok, "AutoReply(%q): raw subjects may have any white space", in)
	}

	n := subject.New(&subject.Options{ExtraAutoReplyPrefixes: []string{"Vacation reply"}})
	prefix, ok := n.AutoReply("Vacation Reply: x")
	assert.True(t, ok, "extra auto-reply prefix")
	assert.Equal(t, "Vacation Reply:", prefix)
}

func TestModeString(t *testing.T) {
	assert.Equal(t, "Extended", subject.Extended.String())
	assert.Equal(t, "RFC5256", subject.RFC5256.String())
	assert.Equal(t, "Mode(7)", subject.Mode(7).String())
	assert.Equal(t, subject.Extended, subject.New(nil).Mode(), "nil options mean Extended")
	assert.Equal(t, subject.Extended, subject.New(&subject.Options{}).Mode(), "the zero Options mean Extended")
}

// TestConcurrentUse runs one Normalizer from many goroutines; with -race it
// shows that Normalizers are immutable.
func TestConcurrentUse(t *testing.T) {
	n := subject.New(&subject.Options{ExtraReplyPrefixes: []string{"Antwoord"}})
	inputs := []string{"Re: AW: x", "[list] 回复: y", "Antwoord: [T#1] z (was: q)", "Automatic reply: w"}
	want := make([]string, len(inputs))
	for i, s := range inputs {
		want[i] = n.Key(s)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				s := inputs[i%len(inputs)]
				if got := n.Key(s); got != want[i%len(inputs)] {
					t.Errorf("Key(%q) = %q, want %q", s, got, want[i%len(inputs)])
				}
				_, _ = n.AutoReply(s)
				_ = subject.Words(s)
			}
		}()
	}
	wg.Wait()
}

func TestKey(t *testing.T) {
	pairs := []struct{ a, b, reason string }{
		{"RE: Résumé", "Résumé ", "the issue's example"},
		{"Re: [USRP-users] R: R: R: UHD and GPUs", "[USRP-users] UHD and GPUs", "list thread"},
		{"回复：ＵＨＤ", "uhd", "full-width letters fold to ASCII"},
		{"AW: Straße", "STRASSE", "full case folding"},
	}
	for _, p := range pairs {
		assert.Equal(t, subject.Key(p.a), subject.Key(p.b), "Key(%q) != Key(%q): %s", p.a, p.b, p.reason)
	}
	assert.NotEqual(t, subject.Key("[Ticket#1] Printer"), subject.Key("[Ticket#2] Printer"), "tokens distinguish subjects")
	require.True(t, slices.Equal(subject.Words(subject.Key("RE: Résumé")), []string{"résumé"}))
}
