package samplegen

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"mime"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// A Mail is one generated message and what the generator knows about it.
type Mail struct {
	// Folder is the mail folder ("Inbox", "Inbox/Clients/Contoso", "Sent").
	Folder string
	// Name is a file name unique in the sample.
	Name string
	// Raw is the RFC 5322 message.
	Raw []byte
	// MessageID is the id without angle brackets.
	MessageID string
	Date      time.Time
	// Regarding is the record the message is about ("incident:CAS-01001"),
	// "" when it is about none.
	Regarding string
	// Seed marks a message the CRM filed itself: sent from the CRM or tracked
	// by hand. Replay files it under Regarding when it meets it.
	Seed bool
	// Scenario says which situation produced the message, for reading the
	// replay's output ("reply:outlook", "stranger-token", "bounce" …).
	Scenario string
}

// msg is a message under construction.
type msg struct {
	from        *person
	to, cc      []*person
	subject     string
	date        time.Time
	id          string
	inReplyTo   string
	refs        []string
	threadIndex []byte
	topic       string
	body        string
	headers     [][2]string // extra header fields
	contentType string      // default text/plain; charset=utf-8
	folder      string
	regarding   string
	seed        bool
	scenario    string
	outgoing    bool
}

func (g *gen) newID(p *person, at time.Time) string {
	g.idSeq++
	n := g.idSeq
	switch p.client {
	case outlook:
		return fmt.Sprintf("%s%08X%04X@%s.prod.outlook.example", strings.ToUpper(g.hex(8)), n, at.Year(), strings.ToUpper(g.hex(6)))
	case gmail:
		return fmt.Sprintf("CA+%s%d@mail.gmail.example", g.b64(20), n)
	case appleMail:
		return fmt.Sprintf("%s-%s-%d@%s", strings.ToUpper(g.hex(8)), strings.ToUpper(g.hex(4)), n, p.company.domain)
	case thunderbird:
		return fmt.Sprintf("%s-%s-%d@%s", g.hex(8), g.hex(4), n, p.company.domain)
	case foxmail:
		return fmt.Sprintf("tencent_%s%d@qq.example", strings.ToUpper(g.hex(10)), n)
	case pop:
		return fmt.Sprintf("%d.%s@mail.%s", at.Unix(), g.hex(6), p.company.domain)
	}
	return fmt.Sprintf("%s.%d@crm.%s", g.hex(16), n, orgDomain)
}

func (g *gen) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}

func (g *gen) b64(n int) string {
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(len(digits))]
	}
	return string(b)
}

// FILETIME of t: 100 ns intervals since 1601-01-01 UTC.
func filetime(t time.Time) uint64 {
	const epochDiff = 116444736000000000
	return uint64(t.UnixNano()/100) + epochDiff
}

// newThreadIndex returns a fresh conversation index (MS-OXOMSG 2.2.1.3): the
// reserved byte, the top 40 bits of the FILETIME and a new GUID.
func (g *gen) newThreadIndex(at time.Time) []byte {
	b := make([]byte, 22)
	b[0] = 1
	var ft [8]byte
	binary.BigEndian.PutUint64(ft[:], filetime(at))
	copy(b[1:6], ft[:5])
	for i := 6; i < 22; i++ {
		b[i] = byte(g.r.IntN(256))
	}
	return b
}

// childThreadIndex appends one 5-byte response level to parent: the time
// since the header time (31 bits, DC=0 granularity) and a random byte.
func (g *gen) childThreadIndex(parent []byte, at time.Time) []byte {
	var ft [8]byte
	copy(ft[:5], parent[1:6])
	head := binary.BigEndian.Uint64(ft[:])
	diff := filetime(at) - head
	var delta uint32
	if (diff>>32)&0x00FE0000 == 0 {
		delta = uint32(diff>>18) & 0x7FFFFFFF
	} else {
		delta = 1<<31 | uint32(diff>>23)&0x7FFFFFFF
	}
	child := append([]byte(nil), parent...)
	var blk [4]byte
	binary.BigEndian.PutUint32(blk[:], delta)
	return append(child, blk[0], blk[1], blk[2], blk[3], byte(g.r.IntN(256)))
}

// render writes m as RFC 5322 text with CRLF line ends, the way its author's
// client would.
func (g *gen) render(m *msg) []byte {
	var b bytes.Buffer
	h := func(k, v string) {
		if v != "" {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	cl := m.from.client
	if cl != crm && m.from.company != nil {
		h("Received", fmt.Sprintf("from mail.%s (mail.%s [192.0.2.%d])\r\n\tby mx.%s with ESMTPS; %s", m.from.company.domain, m.from.company.domain, 10+g.rr.IntN(200), orgDomain, m.date.Format(time.RFC1123Z)))
	}
	h("From", addr(m.from))
	h("To", addrs(m.to))
	h("Cc", addrs(m.cc))
	h("Subject", encodeSubject(m.subject, m.from))
	h("Date", m.date.Format("Mon, 2 Jan 2006 15:04:05 -0700"))
	h("Message-ID", "<"+m.id+">")
	if m.inReplyTo != "" {
		h("In-Reply-To", "<"+m.inReplyTo+">")
	}
	if len(m.refs) > 0 {
		refs := make([]string, len(m.refs))
		for i, r := range m.refs {
			refs[i] = "<" + r + ">"
		}
		h("References", strings.Join(refs, "\r\n "))
	}
	if m.threadIndex != nil {
		h("Thread-Topic", mime.QEncoding.Encode("utf-8", m.topic))
		h("Thread-Index", base64.StdEncoding.EncodeToString(m.threadIndex))
	}
	switch cl {
	case outlook:
		h("X-Mailer", "Microsoft Outlook 16.0")
		h("Content-Language", map[string]string{"de": "de-DE", "fr": "fr-FR", "it": "it-IT", "pt": "pt-BR", "en": "en-US"}[m.from.lang])
	case thunderbird:
		h("User-Agent", "Mozilla Thunderbird")
	case appleMail:
		h("X-Mailer", "Apple Mail (2.3774)")
	case foxmail:
		h("X-Mailer", "Foxmail 7.2.25")
	case pop:
		h("X-Mailer", "QUALCOMM Windows Eudora Version 7.1")
	case crm:
		h("X-MS-Exchange-Organization-SCL", "-1")
	}
	for _, kv := range m.headers {
		h(kv[0], kv[1])
	}
	h("MIME-Version", "1.0")
	ct := m.contentType
	if ct == "" {
		ct = "text/plain; charset=utf-8"
		h("Content-Transfer-Encoding", "8bit")
	}
	h("Content-Type", ct)
	b.WriteString("\r\n")
	body := strings.ReplaceAll(m.body, "\n", "\r\n")
	b.WriteString(body)
	if !strings.HasSuffix(body, "\r\n") {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func addr(p *person) string {
	if p == nil {
		return ""
	}
	name := p.name
	if needsEncoding(name) {
		name = mime.QEncoding.Encode("utf-8", name)
	} else if strings.ContainsAny(name, ",.()") {
		name = `"` + name + `"`
	}
	return name + " <" + p.addr + ">"
}

func addrs(ps []*person) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = addr(p)
	}
	return strings.Join(out, ", ")
}

func needsEncoding(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// encodeSubject writes a subject as the author's client would: Foxmail in
// GBK base64, others in UTF-8 (B for CJK, Q for Latin).
func encodeSubject(s string, p *person) string {
	if !needsEncoding(s) {
		return s
	}
	if p.client == foxmail {
		if gbk, err := simplifiedchinese.GBK.NewEncoder().String(s); err == nil {
			return mime.BEncoding.Encode("gbk", gbk)
		}
	}
	if p.lang == "zh" {
		return mime.BEncoding.Encode("utf-8", s)
	}
	return mime.QEncoding.Encode("utf-8", s)
}
