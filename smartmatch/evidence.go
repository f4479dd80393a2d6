package smartmatch

import (
	"context"
	"fmt"
	"math"
	"strings"

	"golang.org/x/net/publicsuffix"

	partypkg "github.com/mailcorrelate/mailcorrelate/party"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// A level is how closely a tracked email's participants tie it to a
// message, weakest first.
type level int8

const (
	// levelNone: nothing shared besides own addresses.
	levelNone level = iota
	// levelHub: only a hub is shared — a mailing list, a shared mailbox, a
	// queue not configured as own (an address on many tracked emails; and,
	// when OwnAddresses is empty, a recipient of incoming mail on both
	// sides, which may be the organization's own mailbox).
	levelHub
	// levelOrg: an address of the same organization is shared: the same
	// registrable domain, not a freemail provider and not own.
	levelOrg
	// levelAddress: the same person (an address that is neither own nor a
	// hub) is on both.
	levelAddress
)

// String names the level as the Evidence does.
func (l level) String() string {
	switch l {
	case levelHub:
		return "hub"
	case levelOrg:
		return "organization"
	case levelAddress:
		return "address"
	}
	return "none"
}

// Participant evidence in bits, added to the subject's specificity to make
// a candidate's score; see the package documentation for the evidence
// behind each value.
const (
	// DefaultAddressBits is the weight of a shared person.
	DefaultAddressBits = 16.0
	// DefaultOrgBits is the weight of a shared organization.
	DefaultOrgBits = 6.0
	// DefaultHubBits is the weight of a shared hub.
	DefaultHubBits = 4.0
	// DefaultNoneBits is the weight of sharing nobody besides own
	// addresses.
	DefaultNoneBits = -30.0
	// DefaultFreshBits is what a message without a reply or forward prefix
	// loses.
	DefaultFreshBits = 4.0
	// DefaultMinScore is the score a candidate needs.
	DefaultMinScore = 8.0
	// DefaultPriorEmails is the prior of the word statistics: a word is
	// presumed to have been looked for in this many emails and not found,
	// so that in a new store a word that is not generic counts as fairly
	// specific (log2 1024 = 10 bits); the store's own counts take over as
	// it grows.
	DefaultPriorEmails = 512
)

// tuning holds the score's weights.
type tuning struct {
	addrBits, orgBits, hubBits, noneBits, freshBits, minScore, prior float64
}

func (t *tuning) bits(l level) float64 {
	switch l {
	case levelAddress:
		return t.addrBits
	case levelOrg:
		return t.orgBits
	case levelHub:
		return t.hubBits
	}
	return t.noneBits
}

// stopWords are the words that say nothing about which conversation a
// subject names in anyone's mail, in the languages of the subject package's
// reply prefixes: function words, greetings and courtesies, and the generic
// words of first-contact and form-letter subjects that Microsoft's
// smart-matching pitfalls ("Service Details", "New Hire") and the peers'
// complaints ("question", "server down", "invoice") name. They count 0 bits
// and are not indexed. Every other word counts by its document frequency
// among the tracked emails, so what is generic in one organization's mail
// (a product name in every subject, a weekly report) is learned from that
// mail; the list only covers a store too young to have learned it.
var stopWords = wordSet(`
a an the and or of to in on at by for from with about as is are be it its
this that these those my your our his her their me we you i re fw fwd
hi hello hey dear greetings thanks thank regards please
new question questions help info information request inquiry enquiry
update urgent important issue problem service details invoice order
der die das den dem des und oder für mit von vom zu zum zur im am an auf
ein eine einen hallo danke bitte neu neue frage anfrage rechnung
bestellung dringend
le la les l et ou de des du d pour avec un une au aux en sur bonjour merci
nouveau nouvelle demande facture commande urgent
el los las y o del para con por una hola gracias nuevo nueva pregunta
consulta solicitud factura pedido urgente
il lo gli e di della per con uno ciao grazie nuovo nuova domanda
richiesta fattura ordine urgente
os as ou do da dos das com um uma olá obrigado obrigada novo nova
pergunta pedido fatura
het een en van voor met hoi bedankt nieuw vraag factuur bestelling
och eller för med ett hej tack ny nytt fråga faktura
`)

// wordSet returns the set of the white-space separated words of s.
func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// orgOf returns the organization of a normalized address: its registrable
// domain (publicsuffix.EffectiveTLDPlusOne), or "" for a freemail provider,
// a domain without a registrable part, or an address without a domain.
func orgOf(a string) string {
	at := strings.LastIndexByte(a, '@')
	if at < 0 || at == len(a)-1 {
		return ""
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(a[at+1:])
	if err != nil || partypkg.IsFreemail(d) {
		return ""
	}
	return d
}

// inOrg reports whether address a (normalized) belongs to organization
// org: its domain is org or a subdomain of it.
func inOrg(a, org string) bool {
	if len(a) <= len(org) || !strings.HasSuffix(a, org) {
		return false
	}
	c := a[len(a)-len(org)-1]
	return c == '@' || c == '.' && strings.IndexByte(a[:len(a)-len(org)], '@') >= 0
}

// isStop reports whether a folded word of a comparison text says nothing:
// a stop word, or a single character that is not a CJK ideograph.
func isStop(w string) bool {
	if stopWords[w] {
		return true
	}
	return len(w) == 1
}

// appendTerms appends to dst the distinct words of a comparison text that
// are not stop words, at most limit of them, in order.
func appendTerms(dst []string, text string, limit int) []string {
	for text != "" && len(dst) < limit {
		w := text
		if i := strings.IndexByte(text, ' '); i >= 0 {
			w, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		if isStop(w) {
			continue
		}
		dup := false
		for _, x := range dst {
			dup = dup || x == w
		}
		if !dup {
			dst = append(dst, w)
		}
	}
	return dst
}

// maxTermText is the longest word kept as text in a KindTerm key; longer
// ones are hashed.
const maxTermText = 40

// convKey is the KindConversation key: on every email that starts a
// conversation, so that its count is the number of conversations.
var convKey = correlate.Key{Kind: KindConversation}

// startsConversation reports whether a tracked email starts a conversation
// as far as the store knows: it was filed without being correlated with
// another tracked email (by hand, by the CRM, by a folder rule) and its
// subject has no reply or forward prefix (reply reports one). Its
// subject's words are counted.
func startsConversation(t *correlate.Tracked, reply bool) bool {
	return !reply && (t == nil || t.CorrelatedWith == 0)
}

// termKey returns the KindTerm key of a word.
func termKey(w string) correlate.Key {
	if len(w) <= maxTermText {
		return correlate.Key{Kind: KindTerm, Value: w}
	}
	return correlate.Key{Kind: KindTerm, Value: hashText(w)}
}

// hashText returns "#" and the 16 hex digits of the FNV-1a 64-bit hash of s.
func hashText(s string) string {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * prime
	}
	const hex = "0123456789abcdef"
	var b [17]byte
	b[0] = '#'
	for i := 16; i >= 1; i-- {
		b[i] = hex[h&15]
		h >>= 4
	}
	return string(b[:])
}

// wordStats are the document frequencies of a comparison text's words
// that are not stop words, read as far as a decision needs them.
type wordStats struct {
	terms [DefaultMaxTerms]string
	n     int     // words
	read  int     // words whose count was read
	sum   float64 // their bits
	total float64 // tracked conversations plus the prior
	init  bool
}

// specificity returns at least need bits of the specificity of the
// comparison text text, or all of it when it has fewer: the sum over its
// words that are not stop words of log2((C + prior) / (other + ½)), where C
// is the number of tracked conversations and other the number of them,
// besides the candidate's, whose subject has the word — so that a subject
// many conversations carry (a form letter) is generic whatever its words.
// It reads the counts of the words in order and stops when need is met;
// partial reports words left unread. ws keeps what was read.
func (c *Correlator) specificity(ctx context.Context, ws *wordStats, text string, need float64) (bits float64, partial bool, err error) {
	if !ws.init {
		ws.init = true
		ws.n = len(appendTerms(ws.terms[:0], text, c.maxTerms))
		if ws.n == 0 {
			return 0, false, nil
		}
		total, err := c.conversations(ctx)
		if err != nil {
			return 0, false, err
		}
		ws.total = float64(total) + c.tune.prior
	}
	for ws.sum < need && ws.read < ws.n {
		k := termKey(ws.terms[ws.read])
		df, err := c.idx.Count(ctx, k)
		if err != nil {
			return ws.sum, true, fmt.Errorf("smartmatch: count %s %q: %w", k.Kind, k.Value, err)
		}
		ws.sum += math.Log2(ws.total / (float64(max(df-1, 0)) + 0.5))
		ws.read++
	}
	return ws.sum, ws.read < ws.n, nil
}
