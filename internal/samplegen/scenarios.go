package samplegen

import (
	"fmt"
	"strings"
	"time"
)

var topics = []string{
	"Printer offline after firmware update", "Invoice 4711 shows the wrong VAT rate",
	"VPN drops every 10 minutes", "Order 7781 delivery date", "Licence renewal for 50 seats",
	"Cannot log in to the portal", "Replacement part for unit B210", "Quote for annual maintenance",
	"Data export fails with error 0x80070005", "Training session in April",
}

var localTopics = map[string][]string{
	"de": {"Rechnung 4711: falscher Steuersatz", "Drucker nach Update offline"},
	"fr": {"Facture 8812 : montant erroné", "Mise à jour du contrat"},
	"it": {"Richiesta preventivo manutenzione", "Fattura 3321 non ricevuta"},
	"pt": {"Pedido 5521 atrasado", "Renovação da licença"},
	"sv": {"Leverans av order 9910", "Fråga om fakturan"},
	"zh": {"关于发票的问题", "设备维修申请"},
	"es": {"Consulta sobre el pedido 6610", "Factura duplicada"},
	"en": {"Question about my last invoice", "Upgrade options for our plan"},
}

func ptr(s string) *string { return &s }

// scenarios writes the threads of one customer. Which situations a customer
// meets depends on its position i, so every client style meets several.
func (g *gen) scenarios(c *company, i int, next func() time.Time) {
	rep := g.rep(i)
	a1, a2 := g.caseByMail(c, rep, next)
	g.proposal(c, rep, i, next)
	g.occasional(c, rep, i, next)
	g.folderTracking(c, a1, a2, next)
}

// caseByMail writes scenario 1: a customer opens a case by mail; support
// files it by hand, answers from the CRM, and the thread goes on with
// replies and a reply-all. It returns support's two answers.
func (g *gen) caseByMail(c *company, rep *person, next func() time.Time) (a1, a2 *msg) {
	p0, p1 := c.people[0], c.people[1]
	loc := localTopics[p0.lang]
	kase := g.newCase()
	t := next()
	m1 := g.emit(g.start(p0, []*person{g.w.support}, nil, loc[0], t, kase, "new-case"))
	m1.seed = true
	a1 = g.crmSend(rep, []*person{p0}, []*person{g.w.support}, m1, "", g.later(t, 1, 6), kase)
	r1 := g.emit(g.reply(a1, p0, g.later(a1.date, 2, 20), replyOpts{cc: []*person{g.w.support}}))
	a2 = g.crmSend(rep, []*person{p0}, []*person{g.w.support}, r1, "", g.later(r1.date, 1, 8), kase)
	r2 := g.emit(g.reply(a2, p0, g.later(a2.date, 4, 30), replyOpts{cc: []*person{g.w.support, p1}, scenario: "reply-all:" + clientName(p0.client)}))
	g.emit(g.reply(r2, p1, g.later(r2.date, 1, 10), replyOpts{to: []*person{p0}, cc: []*person{g.w.support, rep}}))
	return a1, a2
}

// proposal writes scenario 2: a rep sends a proposal from the CRM; the
// answers lose their headers in the ways real clients lose them.
func (g *gen) proposal(c *company, rep *person, i int, next func() time.Time) {
	p1 := c.people[1]
	opp := g.newOpp()
	t := next()
	topic := topics[i%len(topics)]
	o1 := g.crmSend(rep, []*person{p1}, nil, nil, "Proposal: "+topic, t, opp)
	switch p1.client {
	case outlook:
		// Token kept, headers dropped (an old Outlook that drops In-Reply-To
		// when the subject is edited): only the token links it.
		x := g.emit(g.reply(o1, p1, g.later(t, 3, 30), replyOpts{cc: []*person{g.w.support}, dropHeaders: true,
			newSubject: langs[p1.lang].reply + "Proposal: " + topic + " – questions " + tokenRe.FindString(o1.subject)[1:], scenario: "edited-subject-token"}))
		// Token deleted and headers dropped, Thread-Index intact: only the
		// conversation index links it.
		g.emit(g.reply(x, p1, g.later(x.date, 2, 20), replyOpts{to: []*person{rep}, cc: []*person{g.w.support}, dropHeaders: true, stripToken: true, scenario: "conversation-index-only"}))
	case pop:
		// The POP client drops every threading header; the first answer
		// keeps the token, the second loses it too.
		x := g.emit(g.reply(o1, p1, g.later(t, 3, 30), replyOpts{cc: []*person{g.w.support}, scenario: "token-only:pop3"}))
		g.emit(g.reply(x, p1, g.later(x.date, 20, 60), replyOpts{to: []*person{rep}, cc: []*person{g.w.support}, stripToken: true, scenario: "no-headers-no-token:pop3"}))
	case gmail, appleMail:
		// The customer edits the subject; headers survive.
		x := g.emit(g.reply(o1, p1, g.later(t, 3, 30), replyOpts{cc: []*person{g.w.support}, newSubject: "Re: new delivery address for " + strings.ToLower(topic[:1]) + topic[1:], scenario: "edited-subject-headers"}))
		a := g.crmSend(rep, []*person{p1}, []*person{g.w.support}, x, "", g.later(x.date, 2, 9), opp)
		g.emit(g.reply(a, p1, g.later(a.date, 2, 40), replyOpts{cc: []*person{g.w.support}}))
	default:
		x := g.emit(g.reply(o1, p1, g.later(t, 3, 30), replyOpts{cc: []*person{g.w.support}}))
		a := g.crmSend(rep, []*person{p1}, []*person{g.w.support}, x, "", g.later(x.date, 2, 9), opp)
		g.emit(g.reply(a, p1, g.later(a.date, 2, 40), replyOpts{cc: []*person{g.w.support}}))
	}
}

// occasional writes scenario 3: situations that only some customers meet,
// by the customer's position i.
func (g *gen) occasional(c *company, rep *person, i int, next func() time.Time) {
	p0, p1 := c.people[0], c.people[1]
	p2 := c.people[len(c.people)-1]
	loc := localTopics[p0.lang]
	switch i % 3 {
	case 0:
		// A forward inside the customer, then the colleague writes back: the
		// CRM never saw the forward, References still name its own mail.
		t := next()
		k := g.newCase()
		s := g.emit(g.start(p1, []*person{g.w.support}, nil, loc[1], t, k, "new-case"))
		s.seed = true
		a := g.crmSend(rep, []*person{p1}, []*person{g.w.support}, s, "", g.later(t, 1, 5), k)
		fwd := g.reply(a, p1, g.later(a.date, 1, 5), replyOpts{to: []*person{p2}, forward: true})
		g.emit(g.reply(fwd, p2, g.later(fwd.date, 2, 20), replyOpts{to: []*person{p1}, cc: []*person{g.w.support, rep}, scenario: "reply-to-unseen-forward"}))
		// An out-of-office answer to the CRM's next mail.
		a3 := g.crmSend(rep, []*person{p2}, []*person{g.w.support}, a, "", g.later(fwd.date, 30, 50), k)
		ar := g.reply(a3, p2, a3.date.Add(2*time.Minute), replyOpts{to: []*person{rep}, scenario: "auto-reply",
			extraHeaders: [][2]string{{"Auto-Submitted", "auto-replied"}, {"X-Auto-Response-Suppress", "All"}}})
		ar.subject = langs[p2.lang].autoReply + stripPrefixes(a3.subject)
		ar.body = "I am out of the office until next Monday.\n"
		g.emit(ar)
	case 1:
		// A thread the CRM joins late: a colleague's answer copies support
		// and is filed by hand; the author's sibling answer references only
		// the first mail, which the CRM never saw (ancestor memory).
		t := next()
		k := g.newCase()
		first := g.start(p0, []*person{p1}, nil, loc[1], t, k, "internal")
		joined := g.emit(g.reply(first, p1, g.later(t, 1, 6), replyOpts{to: []*person{p0}, cc: []*person{g.w.support}, scenario: "new-case-late-cc"}))
		joined.seed = true
		g.emit(g.reply(first, p0, g.later(joined.date, 1, 6), replyOpts{to: []*person{p1}, cc: []*person{g.w.support}, scenario: "sibling-of-tracked"}))
	case 2:
		// An Outlook reply that starts a fresh conversation index while
		// keeping In-Reply-To (seen in real Exchange data), and a
		// localized stacked chain.
		t := next()
		k := g.newCase()
		s := g.emit(g.start(p2, []*person{g.w.support}, nil, topics[(i+3)%len(topics)], t, k, "new-case"))
		s.seed = true
		a := g.crmSend(rep, []*person{p2}, []*person{g.w.support}, s, "", g.later(t, 1, 5), k)
		x := g.emit(g.reply(a, p2, g.later(a.date, 2, 30), replyOpts{cc: []*person{g.w.support}, freshIndex: true, scenario: "fresh-thread-index"}))
		g.emit(g.reply(x, p0, g.later(x.date, 2, 30), replyOpts{to: []*person{p2}, cc: []*person{g.w.support}}))
	}
}

// folderTracking writes scenario 4: folder-level tracking at Contoso (the
// user files mail by dragging it into a mapped folder; the rule wins over
// every other signal, here over the thread of a1 and a2), and a track-only
// folder at Adatum.
func (g *gen) folderTracking(c *company, a1, a2 *msg, next func() time.Time) {
	p0, p1 := c.people[0], c.people[1]
	p2 := c.people[len(c.people)-1]
	if c.name == "Contoso" {
		t := next()
		m := g.start(p2, []*person{g.w.support}, nil, "Bestellung 4711 – neues Lieferdatum", t, c.account, "folder-new-mail")
		m.folder = FolderContoso
		g.emit(m)
		g.emit(g.reply(a2, p0, g.later(t, 1, 8), replyOpts{cc: []*person{g.w.support}, folder: FolderContoso,
			regarding: ptr(c.account), scenario: "folder-overrides-thread"}))
	}
	// A track-only folder at Adatum: one mail about nothing tracked, one
	// reply whose record the rest of the chain finds.
	if c.name == "Adatum" {
		t := next()
		m := g.start(p1, []*person{g.w.support}, nil, "Invitation : salon professionnel 2026", t, "", "track-only-folder")
		m.folder = FolderTrackOnly
		g.emit(m)
		g.emit(g.reply(a1, p0, g.later(t, 1, 8), replyOpts{cc: []*person{g.w.support}, folder: FolderTrackOnly, scenario: "track-only-folder-reply"}))
	}
}

// oneOffs writes the situations that involve several customers or none.
func (g *gen) oneOffs(next func() time.Time) {
	anna, li := g.w.reps[0], g.w.reps[1]
	nw, pw := g.w.byName["Northwind"], g.w.byName["Proseware"]

	// Two customers send the same generic subject to the same reps (the
	// false positive Microsoft documents for smart matching). The POP3
	// customer's follow-up carries no header and no token.
	t := next()
	kp, kn := g.newCase(), g.newCase()
	a := g.start(pw.people[1], []*person{g.w.support}, []*person{anna}, "Service Details", t, kp, "generic-subject")
	a.seed = true
	g.emit(a)
	b := g.start(nw.people[2], []*person{g.w.support}, []*person{anna}, "Service Details", g.later(t, 20, 30), kn, "generic-subject")
	b.seed = true
	g.emit(b)
	g.emit(g.reply(a, pw.people[1], g.later(b.date, 5, 20), replyOpts{to: []*person{g.w.support}, cc: []*person{anna}, scenario: "generic-subject-follow-up"}))

	// The same for an internal "New Hire" notice about two candidates.
	t = next()
	h1 := g.start(g.w.hr, []*person{anna, li}, nil, "New Hire", t, "contact:candidate-tomas-novak", "generic-subject")
	h1.seed = true
	g.emit(h1)
	h2 := g.start(g.w.hr, []*person{anna, li}, nil, "New Hire", g.later(t, 24, 48), "contact:candidate-mei-tanaka", "generic-subject")
	h2.seed = true
	h2.threadIndex = nil
	g.emit(h2)
	g.emit(g.reply(h1, anna, g.later(h2.date, 2, 8), replyOpts{to: []*person{g.w.hr}, cc: []*person{li}, dropHeaders: true, dropIndex: true, scenario: "generic-subject-follow-up"}))

	// A stranger pastes another customer's token into a subject: it names a
	// real case but the email is not about it.
	victim := g.victim
	t = next()
	stranger := &person{name: "M. Allory", addr: "m.allory@freemail.example", lang: "en", client: gmail,
		company: &company{name: "freemail", domain: "freemail.example"}}
	g.emit(g.start(stranger, []*person{g.w.support}, nil, "Urgent refund request "+tokenRe.FindString(victim.subject)[1:], t, "", "stranger-token"))

	// A bounce of a CRM mail sent to a mistyped address: the DSN carries the
	// original's headers and is about the original's record.
	t = next()
	c := g.w.byName["Woodgrove"]
	kb := g.newCase()
	s := g.emit(g.start(c.people[0], []*person{g.w.support}, nil, "Richiesta di assistenza urgente", t, kb, "new-case"))
	s.seed = true
	wrong := &person{name: c.people[1].name, addr: "luca.romnao@woodgrove.example", lang: "it", client: outlook, company: c}
	sent := g.crmSend(g.w.reps[2], []*person{wrong}, []*person{g.w.support}, s, "", g.later(t, 1, 4), kb)
	g.emit(g.bounce(sent, g.later(sent.date, 0, 1)))

	// Mail about no record: a newsletter and a prospect nobody files.
	t = next()
	news := &person{name: "Partner News", addr: "news@partners.example", lang: "en", client: thunderbird,
		company: &company{name: "partners", domain: "partners.example"}}
	nl := g.start(news, []*person{g.w.support}, nil, "Partner newsletter – March edition", t, "", "newsletter")
	nl.headers = [][2]string{{"List-Id", "Partner news <news.partners.example>"}, {"List-Unsubscribe", "<mailto:leave@partners.example>"}, {"Precedence", "bulk"}}
	g.emit(nl)
	t = next()
	prospect := &person{name: "Kim Novak", addr: "kim@newprospect.example", lang: "en", client: appleMail,
		company: &company{name: "newprospect", domain: "newprospect.example"}}
	g.emit(g.start(prospect, []*person{g.w.support}, nil, "Pricing question", t, "", "untracked-inquiry"))
}

// bounce writes a Postfix-style RFC 3464 delivery status notification for
// sent, with the original's headers returned.
func (g *gen) bounce(sent *msg, at time.Time) *msg {
	daemon := &person{name: "Mail Delivery System", addr: "MAILER-DAEMON@mx." + orgDomain, lang: "en", client: crm}
	m := &msg{from: daemon, to: []*person{sent.from}, subject: "Undelivered Mail Returned to Sender", date: at,
		regarding: sent.regarding, scenario: "bounce"}
	m.id = fmt.Sprintf("%s.%d@mx.%s", g.hex(12), at.Unix(), orgDomain)
	boundary := "BNC." + g.hex(10)
	m.contentType = `multipart/report; report-type=delivery-status; boundary="` + boundary + `"`
	m.headers = [][2]string{{"Auto-Submitted", "auto-replied"}, {"Return-Path", "<>"}}
	orig := string(g.render(sent))
	origHeader := orig[:strings.Index(orig, "\r\n\r\n")+2]
	m.body = "--" + boundary + "\n" +
		"Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n" +
		"This is the mail system at host mx." + orgDomain + ".\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n" +
		"<" + sent.to[0].addr + ">: host mx.woodgrove.example said: 550 5.1.1 User unknown\n\n" +
		"--" + boundary + "\n" +
		"Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n" +
		"Reporting-MTA: dns; mx." + orgDomain + "\n\nFinal-Recipient: rfc822; " + sent.to[0].addr + "\nAction: failed\nStatus: 5.1.1\n\n" +
		"--" + boundary + "\n" +
		"Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n" +
		strings.ReplaceAll(origHeader, "\r\n", "\n") + "\n" +
		"--" + boundary + "--\n"
	return m
}
