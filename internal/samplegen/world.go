// Package samplegen generates the labeled sample mailbox of the replay
// command: a CRM team (Fabrikam) and its customers over several months —
// cases and opportunities, replies from Outlook, Gmail, Apple Mail,
// Thunderbird and Foxmail styles, forwards, edited subjects, localized
// prefixes, Outlook Thread-Index chains, tracking tokens present, stripped or
// pasted by a stranger, mail filed through mapped folders, auto-replies, a
// bounce, and customers sending the same generic subject to the same reps.
//
// The generator is deterministic for a given Options and knows the truth:
// every message carries the record it is regarding (its label), decided by
// the scenario that wrote it, never by the library's answers. Larger samples
// for benchmarks come from the same scenarios repeated with more customers.
package samplegen

import (
	"fmt"
	"strings"
)

// A client is the mail program a person writes with; it decides reply and
// forward prefixes, which threading headers survive and whether a
// Thread-Index is written.
type client int

const (
	outlook     client = iota // Thread-Index, Thread-Topic, localized RE/AW/R/RES/SV…
	gmail                     // In-Reply-To/References, "Re:"
	appleMail                 // In-Reply-To/References, "Re:"
	thunderbird               // In-Reply-To/References, localized prefixes
	foxmail                   // Chinese full-width "回复："
	pop                       // an old POP3 client: drops In-Reply-To/References
	crm                       // the CRM's own outgoing mail (server-side sync)
)

type lang struct {
	reply, forward string // prefix including separator
	autoReply      string // auto-reply subject prefix
}

var langs = map[string]lang{
	"en": {"RE: ", "FW: ", "Automatic reply: "},
	"de": {"AW: ", "WG: ", "Abwesenheitsnotiz: "},
	"fr": {"RE : ", "TR : ", "Réponse automatique : "},
	"it": {"R: ", "I: ", "Risposta automatica: "},
	"pt": {"RES: ", "ENC: ", "Resposta automática: "},
	"sv": {"SV: ", "VB: ", "Autosvar: "},
	"zh": {"回复：", "转发：", "自动回复："},
	"es": {"RE: ", "RV: ", "Respuesta automática: "},
}

type person struct {
	name, addr string
	lang       string
	client     client
	company    *company
}

type company struct {
	name, domain string
	account      string // record, "account:contoso"
	people       []*person
}

// Fabrikam is the CRM's organization: its mailbox and reps.
const (
	orgDomain = "fabrikam.example"
	// Mailbox is the address of the synchronized mailbox the sample
	// belongs to.
	Mailbox = "support@" + orgDomain
)

type world struct {
	support *person
	reps    []*person
	repNum  map[*person]int // Dynamics user number of each rep (001, 002 …)
	cos     []*company
	byName  map[string]*company
	hr      *person
}

// MaxReps is the most CRM users a sample can have: Dynamics' default
// tracking token numbers users with three digits.
const MaxReps = 999

// baseCustomers is the number of customers of the embedded sample.
const baseCustomers = 9

// newWorld returns the CRM team and the nine customers of the embedded
// sample, plus extraCompanies more (see newCompany). reps is the number of
// CRM users; 0 means the embedded sample's three.
func newWorld(extraCompanies, reps int) *world {
	w := &world{repNum: map[*person]int{}, byName: map[string]*company{}}
	w.support = &person{name: "Fabrikam Support", addr: Mailbox, lang: "en", client: crm}
	for i, r := range [][2]string{{"Anna Berg", "anna.berg"}, {"Li Wei", "li.wei"}, {"Marco Rossi", "marco.rossi"}} {
		p := &person{name: r[0], addr: r[1] + "@" + orgDomain, lang: "en", client: crm}
		w.reps = append(w.reps, p)
		w.repNum[p] = i + 1
	}
	for i := len(w.reps); i < min(reps, MaxReps); i++ {
		p := &person{name: fmt.Sprintf("Rep %03d", i+1), addr: fmt.Sprintf("rep%03d@%s", i+1, orgDomain), lang: "en", client: crm}
		w.reps = append(w.reps, p)
		w.repNum[p] = i + 1
	}
	w.hr = &person{name: "Fabrikam HR", addr: "hr@" + orgDomain, lang: "en", client: outlook}
	add := func(name, domain, lng string, cl client, people ...string) {
		c := newCompany(name, domain, lng, cl, people...)
		w.cos = append(w.cos, c)
		w.byName[name] = c
	}
	add("Contoso", "contoso.example", "de", outlook, "Jörg Müller", "Anna Schmidt", "Lukas Weber")
	add("Northwind", "northwind.example", "en", gmail, "Ravi Kumar", "Emily Chen", "Sam Taylor")
	add("Adatum", "adatum.example", "fr", outlook, "Claire Dubois", "Hugo Martin")
	add("Tailspin", "tailspin.example", "zh", foxmail, "Zhang Wei", "Wang Fang")
	add("Woodgrove", "woodgrove.example", "it", outlook, "Giulia Bianchi", "Luca Romano")
	add("Litware", "litware.example", "pt", outlook, "João Silva", "Ana Souza")
	add("Fourth Coffee", "fourthcoffee.example", "sv", thunderbird, "Erik Lindqvist", "Karin Berg")
	add("Proseware", "proseware.example", "en", pop, "Dana Whitfield", "Omar Haddad")
	add("Alpine Ski", "alpineski.example", "es", appleMail, "Lucía García", "Pablo Ruiz")
	for i := 0; i < extraCompanies; i++ {
		w.cos = append(w.cos, extraCompany(i))
	}
	return w
}

func newCompany(name, domain, lng string, cl client, people ...string) *company {
	c := &company{name: name, domain: domain, account: "account:" + strings.ToLower(strings.ReplaceAll(name, " ", ""))}
	for _, p := range people {
		local := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(p, " ", "."), "ü", "ue"))
		local = strings.NewReplacer("ö", "oe", "ä", "ae", "é", "e", "ç", "c", "ã", "a").Replace(local)
		c.people = append(c.people, &person{name: p, addr: local + "@" + domain, lang: lng, client: cl, company: c})
	}
	return c
}

// extraCompany returns extra customer i (0-based): "Customer 001" and up,
// language and mail program cycling.
func extraCompany(i int) *company {
	langsCycle := []string{"en", "de", "fr", "it", "pt", "sv", "zh", "es"}
	clients := []client{outlook, gmail, appleMail, thunderbird, outlook, pop}
	lng := langsCycle[i%len(langsCycle)]
	cl := clients[i%len(clients)]
	if lng == "zh" {
		cl = foxmail
	}
	return newCompany(fmt.Sprintf("Customer %03d", i+1), fmt.Sprintf("customer%03d.example", i+1), lng, cl,
		fmt.Sprintf("Pat Lee%d", i), fmt.Sprintf("Alex Kim%d", i), fmt.Sprintf("Jo Park%d", i))
}
