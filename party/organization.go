package party

import (
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Organization returns the organization an address (or a domain, with or
// without a leading "@") belongs to, for telling a colleague from a
// stranger: the registrable domain of its domain by the Public Suffix List
// ("anna@mail.contoso.co.uk" → "contoso.co.uk"), in the form of
// [Normalizer.NormalizeDomain] (lower case, ASCII).
//
// ok reports whether that domain is an organization whose people are
// colleagues. It is false for a freemail provider's domain ([IsFreemail]:
// gmail.com, outlook.com … — its users share nothing but the provider; org
// is then that domain) and, with org "", for an address whose domain has no
// registrable part (an IP literal, a bare public suffix such as "co.uk",
// a single label such as "localhost") or cannot be read.
//
// Names under a reserved top-level domain (RFC 2606: "contoso.example")
// count as registrable, as the Public Suffix List's default rule reads
// every unknown top-level domain.
func Organization(addr string) (org string, ok bool) {
	d := addr
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		d = addr[at+1:]
	}
	var n Normalizer
	dom, err := n.NormalizeDomain(strings.TrimSuffix(strings.TrimSpace(d), ">"))
	if err != nil || strings.HasPrefix(dom, "[") || !strings.Contains(dom, ".") {
		return "", false
	}
	org, err = publicsuffix.EffectiveTLDPlusOne(strings.TrimSuffix(dom, "."))
	if err != nil {
		return "", false
	}
	return org, !IsFreemail(org)
}

// IsFreemail reports whether org, a registrable domain in the form
// Organization returns, belongs to a provider of mailboxes to the public
// (webmail, ISP mailboxes): two of its users are not colleagues. The list
// holds the large providers of North America, Europe, Latin America and
// East Asia; it is a heuristic, not a registry.
func IsFreemail(org string) bool {
	_, ok := freemail[org]
	return ok
}

// freemail holds the registrable domains of public mailbox providers.
var freemail = map[string]struct{}{
	// Google, Microsoft, Yahoo, AOL, Apple
	"gmail.com": {}, "googlemail.com": {},
	"outlook.com": {}, "outlook.de": {}, "outlook.fr": {}, "outlook.es": {}, "outlook.it": {}, "outlook.jp": {},
	"hotmail.com": {}, "hotmail.co.uk": {}, "hotmail.de": {}, "hotmail.fr": {}, "hotmail.es": {}, "hotmail.it": {},
	"hotmail.nl": {}, "hotmail.be": {}, "hotmail.ca": {}, "hotmail.com.br": {}, "hotmail.co.jp": {},
	"live.com": {}, "live.co.uk": {}, "live.de": {}, "live.fr": {}, "live.nl": {}, "live.it": {}, "live.ca": {},
	"live.com.au": {}, "msn.com": {}, "passport.com": {},
	"yahoo.com": {}, "yahoo.co.uk": {}, "yahoo.de": {}, "yahoo.fr": {}, "yahoo.es": {}, "yahoo.it": {},
	"yahoo.ca": {}, "yahoo.com.au": {}, "yahoo.com.br": {}, "yahoo.com.mx": {}, "yahoo.co.jp": {}, "yahoo.co.in": {},
	"yahoo.com.ar": {}, "yahoo.com.tw": {}, "yahoo.com.hk": {}, "yahoo.com.sg": {}, "ymail.com": {}, "rocketmail.com": {},
	"aol.com": {}, "aim.com": {}, "aol.co.uk": {}, "aol.de": {}, "aol.fr": {},
	"icloud.com": {}, "me.com": {}, "mac.com": {},
	// privacy and independent webmail
	"proton.me": {}, "protonmail.com": {}, "protonmail.ch": {}, "pm.me": {}, "tutanota.com": {}, "tutanota.de": {},
	"tuta.io": {}, "fastmail.com": {}, "fastmail.fm": {}, "hey.com": {}, "zoho.com": {}, "zohomail.com": {},
	"mail.com": {}, "email.com": {}, "gmx.com": {}, "gmx.net": {}, "gmx.de": {}, "gmx.at": {}, "gmx.ch": {},
	"gmx.fr": {}, "hushmail.com": {}, "mailbox.org": {}, "posteo.de": {}, "runbox.com": {}, "yandex.com": {},
	// Germany, France, Italy, Spain, the Netherlands, Switzerland, the United Kingdom
	"web.de": {}, "t-online.de": {}, "freenet.de": {}, "arcor.de": {}, "online.de": {},
	"orange.fr": {}, "wanadoo.fr": {}, "free.fr": {}, "sfr.fr": {}, "laposte.net": {}, "neuf.fr": {},
	"libero.it": {}, "virgilio.it": {}, "tiscali.it": {}, "alice.it": {}, "tin.it": {},
	"terra.es": {}, "telefonica.net": {}, "ziggo.nl": {}, "kpnmail.nl": {}, "planet.nl": {}, "home.nl": {},
	"bluewin.ch": {}, "btinternet.com": {}, "sky.com": {}, "virginmedia.com": {}, "ntlworld.com": {},
	"talktalk.net": {}, "blueyonder.co.uk": {},
	// Central and Eastern Europe, Russia
	"seznam.cz": {}, "centrum.cz": {}, "wp.pl": {}, "o2.pl": {}, "onet.pl": {}, "interia.pl": {},
	"mail.ru": {}, "bk.ru": {}, "list.ru": {}, "inbox.ru": {}, "yandex.ru": {}, "ya.ru": {}, "rambler.ru": {},
	"ukr.net": {}, "abv.bg": {}, "mail.bg": {},
	// North America, Australia (ISP mailboxes)
	"comcast.net": {}, "verizon.net": {}, "att.net": {}, "sbcglobal.net": {}, "bellsouth.net": {},
	"cox.net": {}, "charter.net": {}, "earthlink.net": {}, "juno.com": {}, "netzero.net": {}, "optonline.net": {},
	"shaw.ca": {}, "rogers.com": {}, "sympatico.ca": {}, "videotron.ca": {},
	"bigpond.com": {}, "optusnet.com.au": {}, "iinet.net.au": {},
	// Latin America, India, East Asia
	"uol.com.br": {}, "bol.com.br": {}, "terra.com.br": {}, "ig.com.br": {}, "rediffmail.com": {},
	"qq.com": {}, "foxmail.com": {}, "163.com": {}, "126.com": {}, "yeah.net": {}, "sina.com": {}, "sina.cn": {},
	"sohu.com": {}, "aliyun.com": {}, "139.com": {},
	"naver.com": {}, "daum.net": {}, "hanmail.net": {}, "nate.com": {},
}
