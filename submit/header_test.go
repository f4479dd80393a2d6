package submit

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/token"
)

// rewritten is what rewrite returns: the message as relayed and the subject
// it was meant to carry.
type rewritten struct {
	out  []byte
	want string
	tok  string
}

// rewrite runs the relay's header work on raw, as prepare does it: the
// subject stamped with tok (within maxLen), the Message-ID set to id when
// id is not "", X-CRM-Regarding removed; the body is copied after it.
func rewrite(t testing.TB, raw []byte, tok, id string, maxLen int) (rewritten, bool) {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(raw))
	block, sep, err := readHeaderBlock(br, DefaultMaxHeaderBytes)
	if err != nil {
		t.Fatalf("readHeaderBlock: %v", err)
	}
	m, _ := correlate.ParseMessage(bytes.NewReader(block), &correlate.ParseOptions{MaxHeaderBytes: -1})
	if m == nil {
		return rewritten{}, false
	}
	fields := splitFields(block)
	nl := lineEnding(block, sep)
	want, stamped, err := stampSubject(token.Format{}, m.Subject, tok, maxLen)
	if err != nil {
		t.Fatalf("stampSubject: %v", err)
	}
	e := edit{messageID: id, dropRegarding: true}
	e.subject, err = subjectEdit(fields, m.Subject, want, stamped, nl)
	if err != nil {
		t.Fatalf("subject %q stamped %q: %v", m.Subject, want, err)
	}
	out := append(rewriteHeader(nil, fields, &e, nl), sep...)
	var rest bytes.Buffer
	rest.ReadFrom(br)
	return rewritten{out: append(out, rest.Bytes()...), want: want, tok: stamped}, true
}

func TestRewriteHeader(t *testing.T) {
	const tok = "CRM:0001042"
	long := strings.Repeat("word ", 60) // 300 characters
	cases := []struct {
		name string
		raw  string
		want string // the whole message as relayed
		why  string
	}{
		{
			name: "plain",
			raw:  "From: a@x\r\nSubject: Printer offline\r\nX-Mailer: Outlook\r\n\r\nbody\r\n",
			want: "From: a@x\r\nSubject: Printer offline CRM:0001042\r\nX-Mailer: Outlook\r\nMessage-ID: <n@relay>\r\n\r\nbody\r\n",
			why:  "the token is appended in place; the new Message-ID goes at the end; the body is untouched",
		},
		{
			name: "encoded words kept",
			raw:  "Subject: =?UTF-8?B?RHJ1Y2tlciBkZWZla3Q=?=\r\nMessage-ID: <old@client>\r\n\r\nx",
			want: "Subject: =?UTF-8?B?RHJ1Y2tlciBkZWZla3Q=?= CRM:0001042\r\nMessage-ID: <n@relay>\r\n\r\nx",
			why:  "an encoded subject keeps its encoded words; the token follows as plain text, which decoders keep after the space",
		},
		{
			name: "folded subject",
			raw:  "Subject: Quarterly review of the maintenance contract for the printers\r\n in building 7\r\n\r\n",
			want: "Subject: Quarterly review of the maintenance contract for the printers\r\n in building 7 CRM:0001042\r\nMessage-ID: <n@relay>\r\n\r\n",
			why:  "the token goes on the last line of a folded subject when it fits there",
		},
		{
			name: "fold before token",
			raw:  "Subject: Quarterly review of the maintenance contract for the printers now\r\n\r\n",
			want: "Subject: Quarterly review of the maintenance contract for the printers now\r\n CRM:0001042\r\nMessage-ID: <n@relay>\r\n\r\n",
			why:  "a line that would pass 78 characters is folded before the token",
		},
		{
			name: "bare LF",
			raw:  "Subject: hi\nMessage-Id: <a@b>\nmessage-id: <c@d>\n\nbody\n",
			want: "Subject: hi CRM:0001042\nMessage-Id: <n@relay>\n\nbody\n",
			why:  "new lines use the message's own line ending; the first Message-ID is replaced keeping its spelling, a second one dropped",
		},
		{
			name: "no subject",
			raw:  "From: a@x\r\n\r\n",
			want: "From: a@x\r\nSubject: CRM:0001042\r\nMessage-ID: <n@relay>\r\n\r\n",
			why:  "a message without a subject gets one made of the token",
		},
		{
			name: "regarding removed",
			raw:  "X-CRM-Regarding: incident:\r\n CAS-1\r\nSubject: s\r\nx-crm-regarding: incident:CAS-1\r\n\r\n",
			want: "Subject: s CRM:0001042\r\nMessage-ID: <n@relay>\r\n\r\n",
			why:  "every X-CRM-Regarding field goes, folded lines and all, whatever its case",
		},
		{
			name: "reply token replaced",
			raw:  "Subject: RE: Printer offline CRM:0001001\r\n\r\n",
			want: "Subject: RE: Printer offline CRM:0001042\r\nMessage-ID: <n@relay>\r\n\r\n",
			why:  "a reply carries the token of the email it answers; this email gets its own instead",
		},
		{
			name: "header only, no final newline",
			raw:  "From: a@x\r\nSubject: s",
			want: "From: a@x\r\nSubject: s CRM:0001042\r\nMessage-ID: <n@relay>\r\n",
			why:  "a message that ends inside its header still gets whole lines",
		},
		{
			name: "not a field",
			raw:  "From: a@x\r\nthis is no field\r\nSubject: s\r\n\r\n",
			want: "From: a@x\r\nthis is no field\r\nSubject: s CRM:0001042\r\nMessage-ID: <n@relay>\r\n\r\n",
			why:  "a line that is no field is relayed as it came, not refused",
		},
		{
			name: "shortened",
			raw:  "Subject: " + long + "\r\n\r\n",
			want: "Subject: " + foldWords(strings.TrimSpace(long[:255-len(tok)-1])+" "+tok, "\r\n", len("Subject: ")) + "\r\nMessage-ID: <n@relay>\r\n\r\n",
			why:  "a subject that does not fit 255 characters with the token is cut, never the token, and written again folded",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := rewrite(t, []byte(c.raw), tok, "<n@relay>", 0)
			if !ok {
				t.Fatal("no header")
			}
			if string(got.out) != c.want {
				t.Errorf("%s:\ngot  %q\nwant %q", c.why, got.out, c.want)
			}
		})
	}
}

// foldWords folds s at spaces so no line passes 78 characters, the first
// line starting at column first.
func foldWords(s, nl string, first int) string {
	var b strings.Builder
	line := first
	for i, w := range strings.Split(s, " ") {
		if i > 0 {
			if line+1+len(w) > foldAt {
				b.WriteString(nl)
				line = 0
			}
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

func TestSubjectEncoded(t *testing.T) {
	const tok = "CRM:0001042"
	cases := []struct {
		name, raw, want string
		why             string
	}{
		{
			name: "long non-ASCII",
			raw:  "Subject: =?UTF-8?B?" + b64(strings.Repeat("Störung im Drucksystem ", 12)) + "?=\r\n\r\n",
			want: strings.TrimSpace(cutUTF16Test(strings.TrimSpace(strings.Repeat("Störung im Drucksystem ", 12)), 255-len(tok)-1)) + " " + tok,
			why:  "a non-ASCII subject that must be cut is written again in encoded words, the token plain after them",
		},
		{
			name: "emoji counted twice",
			raw:  "Subject: =?UTF-8?B?" + b64(strings.Repeat("😀", 130)) + "?=\r\n\r\n",
			want: strings.Repeat("😀", (255-len(tok)-1)/2) + " " + tok,
			why:  "characters outside the BMP count two UTF-16 units, as Exchange counts them",
		},
		{
			name: "encoded trailing space",
			raw:  "Subject: =?UTF-8?Q?Angebot_?=\r\n\r\n",
			want: "Angebot " + tok,
			why:  "appending after an encoded word that ends in a space would read two spaces: the subject is written again",
		},
		{
			name: "encoded line break",
			raw:  "Subject: =?UTF-8?B?" + b64("line1\r\nBcc: x@evil") + "?=\r\n\r\n",
			want: "line1  Bcc: x@evil " + tok,
			why:  "a line break smuggled in an encoded word never reaches the header as one: control characters become spaces",
		},
		{
			name: "literal encoded-word text",
			raw:  "Subject: =?UTF-8?B?" + b64("RE: about =?x?q?y?= syntax CRM:0001001") + "?=\r\n\r\n",
			want: "RE: about =?x?q?y?= syntax " + tok,
			why:  "decoded text that looks like an encoded word cannot be written plain (a reader would decode it): it is encoded",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := rewrite(t, []byte(c.raw), tok, "", 0)
			if !ok {
				t.Fatal("no header")
			}
			if got.want != c.want {
				t.Errorf("stamped subject %q, want %q", got.want, c.want)
			}
			m, _ := correlate.ParseMessage(bytes.NewReader(got.out), nil)
			if m == nil || m.Subject != c.want {
				t.Fatalf("%s: the relayed header %q reads back %q", c.why, got.out, m.Subject)
			}
			checkLines(t, got.out)
		})
	}
}

// checkLines fails when a header line of b passes 998 characters, or an
// encoded word 75.
func checkLines(t testing.TB, b []byte) {
	t.Helper()
	hdr, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	for _, line := range strings.Split(string(hdr), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("header line of %d characters", len(line))
		}
		for _, w := range strings.Fields(line) {
			if strings.HasPrefix(w, "=?UTF-8?B?") && len(w) > 75 {
				t.Fatalf("encoded word of %d characters: %s", len(w), w)
			}
		}
	}
}

func cutUTF16Test(s string, n int) string {
	u := 0
	for i, r := range s {
		w := len(utf16.Encode([]rune{r}))
		if u+w > n {
			return s[:i]
		}
		u += w
	}
	return s
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
