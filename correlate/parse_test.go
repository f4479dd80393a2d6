package correlate_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

func parse(t *testing.T, raw string) (*correlate.Message, *correlate.ParseError) {
	t.Helper()
	m, err := correlate.ParseMessage(strings.NewReader(raw), nil)
	var pe *correlate.ParseError
	if err != nil && !errors.As(err, &pe) {
		t.Fatalf("ParseMessage: %v", err)
	}
	require.NotNil(t, m)
	return m, pe
}

func TestParseMessageFields(t *testing.T) {
	raw := "From: Alice Example <Alice@Example.COM>\r\n" +
		"Sender: desk@example.com\r\n" +
		"To: bob@customer.example, \"Carol, Sales\" <carol@customer.example>\r\n" +
		"Cc: dave@example.com\r\n" +
		"Reply-To: replies@example.com\r\n" +
		"Subject: Re: Invoice 42\r\n" +
		"Date: Tue, 03 Mar 2026 10:15:00 +0100\r\n" +
		"Message-ID: <CAB1234@Mail.Example.COM>\r\n" +
		"In-Reply-To: <parent@Example.com>\r\n" +
		"References: <root@example.com>\r\n <parent@Example.com>\r\n" +
		"Thread-Index: AQHZyJ4Ag5t0gZ2kRkS2ZvYcZ0yWyQ==\r\n" +
		"Thread-Topic: Invoice 42\r\n" +
		"X-Custom: kept\r\n" +
		"\r\n" +
		"body\r\n"
	m, pe := parse(t, raw)
	assert.Nil(t, pe)
	assert.Equal(t, "CAB1234@mail.example.com", m.MessageID, "angle brackets removed, domain lower-cased, local part kept")
	assert.Equal(t, []string{"parent@example.com"}, m.InReplyTo)
	assert.Equal(t, []string{"root@example.com", "parent@example.com"}, m.References, "folded References read in order")
	assert.Equal(t, "Re: Invoice 42", m.Subject)
	assert.Equal(t, []correlate.Address{{Name: "Alice Example", Address: "Alice@Example.COM"}}, m.From)
	assert.Equal(t, "desk@example.com", m.Sender.Address)
	assert.Equal(t, []correlate.Address{{Address: "bob@customer.example"}, {Name: "Carol, Sales", Address: "carol@customer.example"}}, m.To)
	assert.Equal(t, "dave@example.com", m.Cc[0].Address)
	assert.Equal(t, "replies@example.com", m.ReplyTo[0].Address)
	assert.True(t, m.Date.Equal(time.Date(2026, 3, 3, 9, 15, 0, 0, time.UTC)))
	assert.Len(t, m.ThreadIndex, 22, "a 22-byte Thread-Index header block")
	assert.Equal(t, byte(0x01), m.ThreadIndex[0])
	assert.Equal(t, "Invoice 42", m.ThreadTopic)
	assert.Equal(t, "kept", m.Header.Get("X-Custom"), "the raw header is kept for custom strategies")
	assert.Equal(t, "<CAB1234@Mail.Example.COM>", m.Header.Get("Message-ID"), "raw values are undecoded")
	assert.Equal(t, []string{"alice@example.com", "desk@example.com", "bob@customer.example", "carol@customer.example", "dave@example.com"}, m.Participants())
	assert.Equal(t, "alice@example.com", m.SenderAddress())
	assert.Empty(t, m.Text, "the body is not read unless asked")
}

// encodedWord encodes s in the given charset as an RFC 2047 B-word, the way a
// mail program of that locale writes it.
func encodedWord(t *testing.T, charset string, enc encoding.Encoding, s string) string {
	t.Helper()
	b, err := enc.NewEncoder().Bytes([]byte(s))
	require.NoError(t, err)
	return "=?" + charset + "?B?" + base64.StdEncoding.EncodeToString(b) + "?="
}

func TestParseMessageCharsets(t *testing.T) {
	cases := []struct {
		charset string
		enc     encoding.Encoding
		text    string
		reason  string
	}{
		{"ISO-8859-1", charmap.ISO8859_1, "Réponse à votre demande", "Western European, French"},
		{"ISO-8859-2", charmap.ISO8859_2, "Odpowiedź: zamówienie", "Central European, Polish"},
		{"ISO-8859-7", charmap.ISO8859_7, "ΑΠ: Προσφορά", "Greek"},
		{"ISO-8859-8", charmap.ISO8859_8, "תגובה: הזמנה", "Hebrew (visual/logical both map)"},
		{"ISO-8859-9", charmap.ISO8859_9, "YNT: Sipariş", "Turkish"},
		{"ISO-8859-15", charmap.ISO8859_15, "Rechnung 100 €", "Latin-9 with the euro sign"},
		{"windows-1250", charmap.Windows1250, "Odp: Faktura č. 5", "Windows Central European"},
		{"windows-1251", charmap.Windows1251, "Ответ: Счёт", "Windows Cyrillic"},
		{"windows-1252", charmap.Windows1252, "AW: Angebot – „Preis“", "Windows Western, smart quotes"},
		{"windows-1256", charmap.Windows1256, "رد: طلب", "Windows Arabic"},
		{"KOI8-R", charmap.KOI8R, "Переслать: отчёт", "Russian KOI8-R"},
		{"GB2312", simplifiedchinese.HZGB2312, "", "placeholder replaced below"},
		{"GBK", simplifiedchinese.GBK, "回复: 关于发票的问题", "Simplified Chinese GBK"},
		{"GB18030", simplifiedchinese.GB18030, "答复: 转发: 会议", "Simplified Chinese GB18030"},
		{"Big5", traditionalchinese.Big5, "回覆: 轉寄: 報價", "Traditional Chinese Big5"},
		{"Shift_JIS", japanese.ShiftJIS, "返信: 見積もり", "Japanese Shift_JIS"},
		{"ISO-2022-JP", japanese.ISO2022JP, "転送: 請求書", "Japanese ISO-2022-JP (stateful)"},
		{"EUC-JP", japanese.EUCJP, "返信: 注文", "Japanese EUC-JP"},
		{"EUC-KR", korean.EUCKR, "회신: 견적서", "Korean EUC-KR"},
		{"ks_c_5601-1987", korean.EUCKR, "답장: 주문", "Outlook's name for Korean"},
	}
	cases[11] = struct {
		charset string
		enc     encoding.Encoding
		text    string
		reason  string
	}{"GB2312", simplifiedchinese.GBK, "回复: 报价单", "gb2312 label, read as GBK as browsers and mailers do"}
	for _, tc := range cases {
		t.Run(tc.charset, func(t *testing.T) {
			ew := encodedWord(t, tc.charset, tc.enc, tc.text)
			m, pe := parse(t, "From: "+encodedWord(t, tc.charset, tc.enc, "Name")+" <n@example.com>\nSubject: "+ew+"\nThread-Topic: "+ew+"\n\n")
			assert.Nil(t, pe, tc.reason)
			assert.Equal(t, tc.text, m.Subject, tc.reason)
			assert.Equal(t, tc.text, m.ThreadTopic, tc.reason)
			require.Len(t, m.From, 1)
			assert.Equal(t, "Name", m.From[0].Name, "display names decode too")
		})
	}
}

func TestParseMessageEncodedWordQuirks(t *testing.T) {
	cases := []struct {
		name, subject, want string
		problem             bool
		reason              string
	}{
		{"adjacent words", "=?UTF-8?Q?Re:_caf=C3=A9?= =?UTF-8?Q?_cr=C3=A8me?=", "Re: café crème", false, "white space between encoded words is dropped (RFC 2047 §6.2)"},
		{"Q with underscores", "=?iso-8859-1?q?RE:_C?=", "RE: C", false, "imaptest's encoded reply prefix"},
		{"mixed plain and encoded", "Re: =?utf-8?B?w6l0w6k=?= report", "Re: été report", false, "encoded word inside plain text"},
		{"unknown charset", "=?x-made-up?Q?caf=E9?=", "café", true, "unknown charset read as windows-1252, reported"},
		{"raw latin-1", "R\xe9sum\xe9", "Résumé", true, "undeclared 8-bit header is read as windows-1252, reported"},
		{"raw utf-8", "Résumé ✓", "Résumé ✓", false, "RFC 6532 UTF-8 headers are fine"},
		{"malformed word kept", "=?utf-8?Q?broken", "=?utf-8?Q?broken", false, "an unterminated word stays as written"},
		{"python charset name", "=?eucgb2312_cn?B?u9i4tA==?=", "回复", false, "Python's name for GB2312 seen in usrp-users"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, pe := parse(t, "From: a@example.com\nSubject: "+tc.subject+"\n\n")
			assert.Equal(t, tc.want, m.Subject, tc.reason)
			assert.Equal(t, tc.problem, pe != nil, "problem reported: %v (%s)", pe, tc.reason)
		})
	}
}

func TestParseMessageLenientAddresses(t *testing.T) {
	cases := []struct {
		name    string
		header  string
		from    []string
		cc      []string
		problem bool
		reason  string
	}{
		{"broken cc keeps from", "From: Alice <alice@example.com>\nCc: bob@example.com, <<broken, carol@example.com\n",
			[]string{"alice@example.com"}, []string{"bob@example.com", "carol@example.com"}, true,
			"one bad element costs only itself; From is never lost"},
		{"trailing comma", "From: a@example.com\nCc: b@example.com,\n\tc@example.com,\n",
			[]string{"a@example.com"}, []string{"b@example.com", "c@example.com"}, false,
			"obsolete syntax allows empty elements (RFC 5322 §4.4)"},
		{"undisclosed recipients", "From: a@example.com\nCc: undisclosed-recipients:;\n",
			[]string{"a@example.com"}, nil, false, "an empty group is no address and no problem"},
		{"comment display name", "From: harley@argote.ch (Robert Harley)\n",
			[]string{"harley@argote.ch"}, nil, false, "old-style comment names parse via net/mail"},
		{"unquoted dot in name", "From: R. A. Hettinga <rah@example.com>\n",
			[]string{"rah@example.com"}, nil, false, "obsolete phrase with dots"},
		{"bare address in angle brackets", "From: <x@example.com>\n", []string{"x@example.com"}, nil, false, "angle-addr without name"},
		{"missing domain", "From: Alice <alice>\n", nil, nil, true, "nothing recognizable: reported, From empty, message kept"},
		{"unquoted comma in name", "From: Smith, John <john@example.com>\n", []string{"john@example.com"}, nil, true,
			"Outlook-style unquoted 'Last, First' salvages the address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, pe := parse(t, tc.header+"Subject: x\n\n")
			var from, cc []string
			for _, a := range m.From {
				from = append(from, a.Address)
			}
			for _, a := range m.Cc {
				cc = append(cc, a.Address)
			}
			assert.Equal(t, tc.from, from, tc.reason)
			assert.Equal(t, tc.cc, cc, tc.reason)
			assert.Equal(t, tc.problem, pe != nil, "problem: %v (%s)", pe, tc.reason)
			assert.Equal(t, "x", m.Subject, "the rest of the message is read")
		})
	}
}

func TestParseMessageIDs(t *testing.T) {
	cases := []struct {
		name, in string
		max      int
		want     []string
		err      bool
		reason   string
	}{
		{"single", "<a@example.com>", 0, []string{"a@example.com"}, false, "the common case"},
		{"no spaces", "<a@x><b@x><c@x>", 0, []string{"a@x", "b@x", "c@x"}, false, "gatherstars test comment: ids without separators"},
		{"folded", "<a@x>\r\n\t<b@x>", 0, []string{"a@x", "b@x"}, false, "folded References"},
		{"folded inside id", "<a-very-long-\r\n id@x>", 0, []string{"a-very-long-id@x"}, false, "Odoo unfold_references: white space inside an id is removed"},
		{"junk between", "Your message of \"Mon, 1 Jan\" <a@x> (RFC822 4lyfe)", 0, []string{"a@x"}, false, "notmuch T510: text around the id"},
		{"duplicates", "<a@x> <b@x> <a@x>", 0, []string{"a@x", "b@x"}, false, "repeats dropped, first occurrence kept"},
		{"bounded newest", "<1@x> <2@x> <3@x> <4@x>", 2, []string{"3@x", "4@x"}, false, "keep the newest (last) ids"},
		{"no brackets", "a@x b@x", 0, []string{"a@x", "b@x"}, false, "some mailers drop the brackets"},
		{"junk only", "\"Jim\"'s message of \"Wed, 4 Sep 2002\"", 0, nil, true, "spamassassin 0493: no id at all, reported"},
		{"placeholder kept", "<yes>", 0, []string{"yes"}, false, "git send-email junk is kept as written; strategies drop it"},
		{"domain case", "<Abc@EXAMPLE.org>", 0, []string{"Abc@example.org"}, false, "domain folded, local part kept"},
		{"nested bracket", "<junk <a@x>", 0, []string{"a@x"}, false, "an unclosed bracket restarts at the next"},
		{"empty brackets", "<> <a@x>", 0, []string{"a@x"}, true, "an empty id is dropped and reported"},
		{"unterminated", "<a@x> <b@", 0, []string{"a@x"}, true, "an unterminated id is dropped and reported"},
		{"empty", "", 0, nil, false, "an empty field is no problem"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := correlate.ParseMessageIDs(tc.in, tc.max)
			assert.Equal(t, tc.want, got, tc.reason)
			assert.Equal(t, tc.err, err != nil, "error %v (%s)", err, tc.reason)
		})
	}
	_, err := correlate.ParseMessageIDs("no ids here", 0)
	assert.ErrorIs(t, err, correlate.ErrNoMessageID)
}

func TestParseMessageReferencesBound(t *testing.T) {
	var refs []string
	for i := 0; i < 100; i++ {
		refs = append(refs, fmt.Sprintf("<r%d@x>", i))
	}
	m, pe := parse(t, "From: a@x\nReferences: "+strings.Join(refs, "\n ")+"\n\n")
	assert.Nil(t, pe)
	require.Len(t, m.References, correlate.DefaultMaxReferences, "only the newest 32 are kept")
	assert.Equal(t, "r68@x", m.References[0])
	assert.Equal(t, "r99@x", m.References[31], "the parent (last id) is always kept")

	m2, err := correlate.ParseMessage(strings.NewReader("From: a@x\nReferences: "+strings.Join(refs, " ")+"\n\n"), &correlate.ParseOptions{MaxReferences: -1})
	require.NoError(t, err)
	assert.Len(t, m2.References, 100, "MaxReferences -1 keeps all")
}

func TestParseMessageThreadIndex(t *testing.T) {
	raw := []byte{1, 0xd9, 0xc8, 0x9e, 0, 0x83, 0x9b, 0x74, 0x81, 0x9d, 0xa4, 0x46, 0x44, 0xb6, 0x66, 0xf6, 0x1c, 0x67, 0x4c, 0x96, 0xc9, 0x12}
	for name, enc := range map[string]string{
		"padded":   base64.StdEncoding.EncodeToString(raw),
		"unpadded": base64.RawStdEncoding.EncodeToString(raw),
		"folded":   base64.StdEncoding.EncodeToString(raw)[:10] + "\n " + base64.StdEncoding.EncodeToString(raw)[10:],
	} {
		t.Run(name, func(t *testing.T) {
			m, pe := parse(t, "From: a@x\nThread-Index: "+enc+"\n\n")
			assert.Nil(t, pe)
			assert.Equal(t, raw, m.ThreadIndex)
		})
	}
	m, pe := parse(t, "From: a@x\nThread-Index: not*base64!\n\n")
	require.NotNil(t, pe, "bad base64 is reported")
	assert.Equal(t, "Thread-Index", pe.Problems[0].Field)
	assert.Equal(t, "a@x", m.From[0].Address)
}

func TestParseMessageDates(t *testing.T) {
	want := time.Date(2002, 8, 22, 13, 44, 4, 0, time.UTC)
	for _, d := range []string{
		"Thu, 22 Aug 2002 09:44:04 -0400",
		"Thu, 22 Aug 2002 09:44:04 -0400 (EDT)",
		"22 Aug 2002 09:44:04 -0400",
		"Thu,  22 Aug 2002  09:44:04 -0400",
	} {
		m, pe := parse(t, "From: a@x\nDate: "+d+"\n\n")
		assert.Nil(t, pe, d)
		assert.True(t, m.Date.Equal(want), "%q = %v", d, m.Date)
	}
	m, pe := parse(t, "From: a@x\nDate: sometime last week\n\n")
	require.NotNil(t, pe)
	assert.True(t, m.Date.IsZero(), "an unreadable date is zero and reported")
}

func TestParseMessageStructure(t *testing.T) {
	t.Run("mbox From line", func(t *testing.T) {
		m, pe := parse(t, "From alice@example.com Thu Aug 22 14:44:07 2002\nFrom: alice@example.com\nSubject: s\n\n")
		assert.Nil(t, pe)
		assert.Len(t, m.From, 1, "the separator is not a field")
	})
	t.Run("mangled mbox From line", func(t *testing.T) {
		m, pe := parse(t, "Replied: Thu, 29 Aug 2002 11:24:44 +0100\nFrom: list-admin@example.org  Fri Sep  6 11:34:24 2002\nFrom: Real Sender <real@example.com>\n\n")
		assert.Nil(t, pe)
		require.Len(t, m.From, 1)
		assert.Equal(t, "real@example.com", m.From[0].Address, "the mangled separator is skipped, the real From kept")
	})
	t.Run("non-field line", func(t *testing.T) {
		m, pe := parse(t, "From: a@x\nthis line is junk\nSubject: s\n\n")
		require.NotNil(t, pe)
		assert.Equal(t, "s", m.Subject, "fields after a junk line are read")
	})
	t.Run("space before colon", func(t *testing.T) {
		m, pe := parse(t, "From : a@x\nSubject : s\n\n")
		assert.Nil(t, pe)
		assert.Equal(t, "s", m.Subject, "obsolete WSP before the colon")
	})
	t.Run("header only", func(t *testing.T) {
		m, pe := parse(t, "From: a@x\nSubject: no body, no final newline")
		assert.Nil(t, pe)
		assert.Equal(t, "no body, no final newline", m.Subject)
	})
	t.Run("repeated subject", func(t *testing.T) {
		m, _ := parse(t, "From: a@x\nSubject: first\nSubject: second\n\n")
		assert.Equal(t, "first", m.Subject, "first occurrence wins, as net/mail's Header.Get")
		assert.Equal(t, []string{"first", "second"}, m.Header["Subject"], "both kept in the raw header")
	})
	t.Run("raw header", func(t *testing.T) {
		// Names are canonicalized as textproto does, folded values lose
		// their line breaks but keep their white space (RFC 5322 §2.2.3),
		// and repeated fields keep their order whether they are
		// consecutive (Received) or interleaved (X-A).
		m, pe := parse(t, "received: r1\r\n\tfolded\r\nReceived: r2\r\nX-A: a1\r\nMESSAGE-ID: <i@x>\r\n"+
			"x-a: a2\r\nReceived: r3\r\nX-A:  a3 \r\nFrom: a@x\r\n\r\n")
		assert.Nil(t, pe)
		assert.Equal(t, mail.Header{
			"Received":   {"r1\tfolded", "r2", "r3"},
			"X-A":        {"a1", "a2", "a3"},
			"Message-Id": {"<i@x>"},
			"From":       {"a@x"},
		}, m.Header)
		assert.Equal(t, "i@x", m.MessageID)
	})
	t.Run("two References fields", func(t *testing.T) {
		m, _ := parse(t, "From: a@x\nReferences: <1@x>\nReferences: <2@x> <1@x>\n\n")
		assert.Equal(t, []string{"1@x", "2@x"}, m.References)
	})
}

func TestParseMessageFailures(t *testing.T) {
	for name, raw := range map[string]string{
		"empty":            "",
		"blank first line": "\r\nFrom: a@x\r\n",
		"only mbox line":   "From a@x Thu Aug 22 14:44:07 2002\n",
		"no fields":        "hello world\nthis is not mail\n",
	} {
		t.Run(name, func(t *testing.T) {
			m, err := correlate.ParseMessage(strings.NewReader(raw), nil)
			assert.ErrorIs(t, err, correlate.ErrNoHeader)
			assert.Nil(t, m)
		})
	}
	t.Run("too large", func(t *testing.T) {
		raw := "From: a@x\nX-Big: " + strings.Repeat("a", 2000) + "\n\n"
		m, err := correlate.ParseMessage(strings.NewReader(raw), &correlate.ParseOptions{MaxHeaderBytes: 1000})
		assert.ErrorIs(t, err, correlate.ErrHeaderTooLarge)
		assert.Nil(t, m)
		_, err = correlate.ParseMessage(strings.NewReader(raw), &correlate.ParseOptions{MaxHeaderBytes: -1})
		assert.NoError(t, err, "-1 means no limit")
	})
	t.Run("one long line", func(t *testing.T) {
		raw := "From: a@x\nSubject: " + strings.Repeat("x", 50000) + "\n\nbody"
		m, err := correlate.ParseMessage(strings.NewReader(raw), nil)
		require.NoError(t, err)
		assert.Len(t, m.Subject, 50000, "lines longer than the read buffer are read whole")
	})
	t.Run("reader error", func(t *testing.T) {
		_, err := correlate.ParseMessage(errReader{}, nil)
		assert.ErrorIs(t, err, errBoom)
	})
}

var errBoom = errors.New("boom")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBoom }

func TestParseMessageText(t *testing.T) {
	latin := "Merci pour votre r=E9ponse.\r\n"
	cases := []struct {
		name, raw, want string
		reason          string
	}{
		{"plain", "From: a@x\n\nHello\n", "Hello\n", "no Content-Type means text/plain us-ascii"},
		{"qp latin1", "From: a@x\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n" + latin,
			"Merci pour votre réponse.\r\n", "quoted-printable and charset both undone"},
		{"base64 utf8", "From: a@x\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" +
			base64.StdEncoding.EncodeToString([]byte("été")) + "\n", "été", "base64 body"},
		{"alternative", "From: a@x\nContent-Type: multipart/alternative; boundary=XX\n\n--XX\nContent-Type: text/html\n\n<p>hi</p>\n--XX\nContent-Type: text/plain; charset=utf-8\n\nhi there\n--XX--\n",
			"hi there", "the text/plain alternative, not the HTML"},
		{"nested mixed", "From: a@x\nContent-Type: multipart/mixed; boundary=O\n\n--O\nContent-Type: multipart/alternative; boundary=I\n\n--I\nContent-Type: text/plain\n\ninner\n--I--\n--O\nContent-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nattached\n--O--\n",
			"inner", "nested multipart; attachments are not the body"},
		{"html only", "From: a@x\nContent-Type: text/html\n\n<p>x</p>", "", "no text/plain part: empty Text"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := correlate.ParseMessage(strings.NewReader(tc.raw), &correlate.ParseOptions{Text: true, KeepBody: true})
			require.NoError(t, err)
			assert.Equal(t, tc.want, m.Text, tc.reason)
			assert.NotNil(t, m.Body, "KeepBody keeps the raw body")
		})
	}
	t.Run("body bound", func(t *testing.T) {
		m, err := correlate.ParseMessage(strings.NewReader("From: a@x\n\n"+strings.Repeat("z", 5000)), &correlate.ParseOptions{KeepBody: true, MaxBodyBytes: 100})
		require.NoError(t, err)
		assert.Len(t, m.Body, 100)
	})
}

func TestNormalize(t *testing.T) {
	assert.Equal(t, "abc@example.com", correlate.NormalizeAddress("  ABC@Example.com "))
	assert.Equal(t, "élise@exämple.com", correlate.NormalizeAddress("Élise@EXÄMPLE.com"))
	assert.Equal(t, "a.B@x.org", correlate.NormalizeMessageID(" < a.B@X.Org > "))
	assert.Equal(t, "yes", correlate.NormalizeMessageID("<yes>"))
	assert.Equal(t, "a@b@c.org", correlate.NormalizeMessageID("<a@b@C.org>"), "only the part after the last @ is the domain")
}

func TestParseErrorInspection(t *testing.T) {
	_, err := correlate.ParseMessage(strings.NewReader("From: a@x\nIn-Reply-To: nothing useful\nDate: never\n\n"), nil)
	var pe *correlate.ParseError
	require.ErrorAs(t, err, &pe)
	require.Len(t, pe.Problems, 2)
	assert.Equal(t, "In-Reply-To", pe.Problems[0].Field)
	assert.Equal(t, "Date", pe.Problems[1].Field)
	assert.ErrorIs(t, err, correlate.ErrNoMessageID, "errors.Is sees through the list")
	assert.Contains(t, err.Error(), "2 problems")
}

func TestParseMessageNeverPanicsOnTruncations(t *testing.T) {
	raw := []byte("From: \"A\" <a@x>\r\nTo: b@y,\r\n c@z\r\nSubject: =?utf-8?B?w6l0w6k=?=\r\nMessage-ID: <id@x>\r\nReferences: <1@x> <2@x>\r\nThread-Index: AQHZyJ4Ag5t0gZ2kRkS2ZvYcZ0yWyQ==\r\nContent-Type: multipart/alternative; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B--\r\n")
	for i := 0; i <= len(raw); i++ {
		m, err := correlate.ParseMessage(bytes.NewReader(raw[:i]), &correlate.ParseOptions{Text: true})
		var pe *correlate.ParseError
		if err == nil || errors.As(err, &pe) {
			assert.NotNil(t, m, "prefix %d", i)
		}
	}
}
