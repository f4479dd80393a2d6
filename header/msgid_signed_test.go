package header_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

var (
	idKeyOld = []byte("0123456789abcdef-old-key")
	idKeyNew = []byte("fedcba9876543210-new-key")
)

// fixedRand makes the nonce of NewMessageID deterministic.
func fixedRand() *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{0x5a}, 64)) }

func signID(t testing.TB, rec correlate.Record, keys ...[]byte) string {
	t.Helper()
	id, err := header.NewMessageID(rec, "CRM.Fabrikam.example", keys, nil)
	require.NoError(t, err)
	return id
}

func TestNewMessageIDRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		rec    correlate.Record
		reason string
	}{
		{"plain", correlate.Record{Type: "incident", ID: "CAS-01042"}, "the everyday record"},
		{"guid", correlate.Record{Type: "opportunity", ID: "1b0e5a1e-8c4f-ef11-a316-000d3a2b9c11"}, "Dataverse ids are GUIDs"},
		{"colons and spaces", correlate.Record{Type: "ext", ID: "a:b c\td"}, "ids may hold any character"},
		{"id syntax inside", correlate.Record{Type: "x", ID: "<evil@host> .. @@ \r\n"}, "brackets, '@', dots and line breaks must not leak into the id"},
		{"unicode", correlate.Record{Type: "vorgang", ID: "Übergabe-äöü-日本"}, "non-ASCII is encoded, not written"},
		{"invalid utf-8 and NUL", correlate.Record{Type: "t\x00", ID: "\xff\xfe\x00"}, "bytes, not text, are signed"},
		{"empty type", correlate.Record{ID: "42"}, "a record needs only one non-empty part"},
		{"empty id", correlate.Record{Type: "queue"}, "a record needs only one non-empty part"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := signID(t, tc.rec, idKeyNew)
			assert.LessOrEqual(t, len(id), header.MaxMessageIDLen, tc.reason)
			assert.True(t, strings.HasSuffix(id, "@crm.fabrikam.example>"), "the domain is lower-cased: %s", id)
			ids, err := correlate.ParseMessageIDs(id, 0)
			require.NoError(t, err, tc.reason)
			require.Len(t, ids, 1, "the id parses back as exactly one Message-ID")
			assert.Equal(t, correlate.NormalizeMessageID(id), ids[0])
			assert.Empty(t, header.Junk(ids[0], nil), "the id is not junk to the header strategies")
			local := ids[0][:strings.LastIndexByte(ids[0], '@')]
			for i := 0; i < len(local); i++ {
				c := local[i]
				assert.True(t, c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z', "dot-atom of lower-case base32, got %q", c)
			}
			got, err := header.VerifyMessageID(id, [][]byte{idKeyNew})
			require.NoError(t, err)
			assert.Equal(t, tc.rec, got, tc.reason)
			got, err = header.VerifyMessageID(strings.ToUpper(ids[0]), [][]byte{idKeyNew})
			require.NoError(t, err, "a relay that upper-cases the id does not break it")
			assert.Equal(t, tc.rec, got)
		})
	}
}

func TestNewMessageIDUnique(t *testing.T) {
	rec := correlate.Record{Type: "incident", ID: "CAS-1"}
	seen := map[string]bool{}
	for range 1000 {
		id := signID(t, rec, idKeyNew)
		require.False(t, seen[id], "every call makes a new id")
		seen[id] = true
	}
	a, err := header.NewMessageID(rec, "crm.example", [][]byte{idKeyNew}, &header.IDOptions{Rand: fixedRand()})
	require.NoError(t, err)
	b, err := header.NewMessageID(rec, "crm.example", [][]byte{idKeyNew}, &header.IDOptions{Rand: fixedRand()})
	require.NoError(t, err)
	assert.Equal(t, a, b, "IDOptions.Rand makes ids reproducible")
}

func TestNewMessageIDErrors(t *testing.T) {
	rec := correlate.Record{Type: "incident", ID: "CAS-1"}
	cases := []struct {
		name   string
		rec    correlate.Record
		domain string
		keys   [][]byte
		is     error
		reason string
	}{
		{"zero record", correlate.Record{}, "crm.example", [][]byte{idKeyNew}, nil, "an id must name something"},
		{"no key", rec, "crm.example", nil, nil, "unsigned ids are what NewMessageID exists to avoid"},
		{"short key", rec, "crm.example", [][]byte{[]byte("short")}, nil, "a 5-byte key is guessable"},
		{"bad domain", rec, "crm example", [][]byte{idKeyNew}, nil, "a space would split the id"},
		{"domain with @", rec, "a@b", [][]byte{idKeyNew}, nil, "the domain must not hold '@'"},
		{"empty domain", rec, "", [][]byte{idKeyNew}, nil, "RFC 5322 needs an id-right"},
		{"too long", correlate.Record{Type: "incident", ID: strings.Repeat("x", 200)}, "crm.example", [][]byte{idKeyNew}, header.ErrIDTooLong,
			"Dynamics' messageid column holds 320 characters"},
		{"long domain", correlate.Record{Type: "incident", ID: "CAS-0000000000001042"}, strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61), [][]byte{idKeyNew},
			header.ErrIDTooLong, "the domain counts too"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := header.NewMessageID(tc.rec, tc.domain, tc.keys, nil)
			require.Error(t, err, tc.reason)
			assert.Empty(t, id)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is, tc.reason)
			}
		})
	}
	_, err := header.NewMessageID(rec, "crm.example", [][]byte{idKeyNew}, &header.IDOptions{Rand: bytes.NewReader(nil)})
	assert.Error(t, err, "a failing random source is reported, not papered over")
	long, err := header.NewMessageID(correlate.Record{Type: "incident", ID: strings.Repeat("x", 150)}, "crm.example", [][]byte{idKeyNew}, nil)
	require.NoError(t, err, "150 bytes of record fit with a short domain")
	assert.LessOrEqual(t, len(long), header.MaxMessageIDLen)
}

func TestVerifyMessageID(t *testing.T) {
	rec := correlate.Record{Type: "incident", ID: "CAS-01042"}
	good := signID(t, rec, idKeyNew)
	old := signID(t, rec, idKeyOld)
	other := signID(t, correlate.Record{Type: "incident", ID: "CAS-99999"}, idKeyNew)
	local := strings.Trim(good[:strings.IndexByte(good, '@')], "<")
	parts := strings.Split(local, ".") // mc1, nonce, record, mac
	otherParts := strings.Split(strings.Trim(other[:strings.IndexByte(other, '@')], "<"), ".")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	rotated := [][]byte{idKeyNew, idKeyOld}
	cases := []struct {
		name   string
		id     string
		keys   [][]byte
		want   correlate.Record
		is     error
		reason string
	}{
		{"valid", good, rotated, rec, nil, "signed with the first key"},
		{"rotated key", old, rotated, rec, nil, "ids signed before the rotation still verify"},
		{"retired key", old, [][]byte{idKeyNew}, correlate.Record{}, header.ErrBadSignature, "once the old key is dropped its ids stop verifying"},
		{"no brackets", strings.Trim(good, "<>"), rotated, rec, nil, "normalized ids have no brackets"},
		{"other domain", local + "@elsewhere.example", rotated, rec, nil, "the MAC covers the record, not the domain (one key may serve several domains)"},
		{"foreign id", "CAFE1234@mail.gmail.com", rotated, correlate.Record{}, header.ErrNotSigned, "another system's id is no claim"},
		{"no at", "mc1.abc", rotated, correlate.Record{}, header.ErrNotSigned, "not a Message-ID"},
		{"record swapped", strings.Join([]string{parts[0], parts[1], otherParts[2], parts[3]}, ".") + "@crm.fabrikam.example", rotated,
			correlate.Record{}, header.ErrBadSignature, "moving another id's record under this MAC is a forgery"},
		{"record altered", strings.Join([]string{parts[0], parts[1], flip(parts[2], 3), parts[3]}, ".") + "@crm.fabrikam.example", rotated,
			correlate.Record{}, header.ErrBadSignature, "one changed character of the record"},
		{"mac altered", strings.Join([]string{parts[0], parts[1], parts[2], flip(parts[3], 0)}, ".") + "@crm.fabrikam.example", rotated,
			correlate.Record{}, header.ErrBadSignature, "one changed character of the MAC"},
		{"nonce altered", strings.Join([]string{parts[0], flip(parts[1], 2), parts[2], parts[3]}, ".") + "@crm.fabrikam.example", rotated,
			correlate.Record{}, header.ErrBadSignature, "the nonce is signed too"},
		{"non-canonical tail", strings.Join([]string{parts[0], parts[1][:12] + "z", parts[2], parts[3]}, ".") + "@x", rotated,
			correlate.Record{}, header.ErrBadSignature, "a second spelling of the same bytes is refused"},
		{"mac truncated", strings.Join([]string{parts[0], parts[1], parts[2], parts[3][:10]}, ".") + "@x", rotated,
			correlate.Record{}, header.ErrBadSignature, "a shorter MAC is easier to guess"},
		{"made up", "mc1.aaaaaaaaaaaaa.c5q6yvk.aaaaaaaaaaaaaaaa@crm.fabrikam.example", rotated, correlate.Record{}, header.ErrBadSignature,
			"the iTop #95 attack: writing a record into an id without the key"},
		{"extra part", local + ".x@crm.fabrikam.example", rotated, correlate.Record{}, header.ErrBadSignature, "malformed"},
		{"no keys", good, nil, correlate.Record{}, header.ErrBadSignature, "nothing can verify without a key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := header.VerifyMessageID(tc.id, tc.keys)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is, tc.reason)
			} else {
				assert.NoError(t, err, tc.reason)
			}
			assert.Equal(t, tc.want, got, tc.reason)
		})
	}
}

// TestInReplyToSigned: the InReplyTo strategy recovers the record from a
// signed id that no tracked email has, and refuses forged ones.
func TestInReplyToSigned(t *testing.T) {
	ctx := context.Background()
	rec := correlate.Record{Type: "incident", ID: "CAS-01042"}
	sent := signID(t, rec, idKeyNew)
	sentOld := signID(t, rec, idKeyOld)
	older := signID(t, correlate.Record{Type: "incident", ID: "CAS-00007"}, idKeyNew)
	forged := "<mc1.aaaaaaaaaaaaa.c5q6yvk.aaaaaaaaaaaaaaaa@crm.fabrikam.example>"
	keys := [][]byte{idKeyNew, idKeyOld}
	reply := func(hdr string) string {
		return "From: Ann <ann@example.com>\r\nTo: support@fabrikam.example\r\nSubject: Re: Printer\r\n" +
			"Message-ID: <r1@example.com>\r\n" + hdr + "\r\n"
	}
	cases := []struct {
		name     string
		keys     [][]byte
		fixtures []tracked
		msg      string
		want     correlate.Record
		conf     float64
		tracked  bool   // CorrelatedWith set
		reason   string // in Match.Reason
		note     string // in some Evidence note
		why      string
	}{
		{"in-reply-to", keys, nil, reply("In-Reply-To: " + sent + "\r\n"), rec, correlate.Certain, false,
			"In-Reply-To names a signed Message-ID of incident:CAS-01042", "signature verified",
			"the email was never tracked, but its id names the record"},
		{"rotated key", keys, nil, reply("In-Reply-To: " + sentOld + "\r\n"), rec, correlate.Certain, false,
			"signed Message-ID", "signature verified", "ids signed with the previous key still verify"},
		{"newest reference", keys, nil, reply("References: " + older + " " + sent + "\r\n"), rec, correlate.Certain, false,
			"References names a signed Message-ID", "", "the newest References id is the parent"},
		{"older reference", keys, nil, reply("References: " + sent + " <lost@example.com>\r\n"), rec, correlate.High, false,
			"References names a signed Message-ID", "", "an older id is an ancestor: High, as for tracked ids"},
		{"own id", keys, nil, "From: support@fabrikam.example\r\nTo: ann@example.com\r\nSubject: Printer\r\nMessage-ID: " + sent + "\r\n\r\n",
			rec, correlate.Certain, false, "its own Message-ID is signed", "",
			"an email this system sent, synchronized from Sent Items before it was tracked"},
		{"tracked wins", keys, []tracked{{raw: "Message-ID: " + sent + "\r\nFrom: support@fabrikam.example\r\nSubject: Printer\r\n\r\n", record: "incident:CAS-02000"}},
			reply("In-Reply-To: " + sent + "\r\n"), correlate.Record{Type: "incident", ID: "CAS-02000"}, correlate.Certain, true,
			"In-Reply-To names a tracked email", "", "a relinked tracked email's current record beats the record signed at sending time"},
		{"forged", keys, nil, reply("In-Reply-To: " + forged + "\r\n"), correlate.Record{}, 0, false,
			"bad signature", "bad signature: forged or altered", "a made-up id names nothing, and the Decision says why"},
		{"forged then valid", keys, nil, reply("In-Reply-To: " + forged + "\r\nReferences: " + sent + " " + forged + "\r\n"), rec, correlate.High, false,
			"References names a signed Message-ID", "bad signature", "the forged id is skipped, the genuine older id still counts"},
		{"no keys", nil, nil, reply("In-Reply-To: " + sent + "\r\n"), correlate.Record{}, 0, false,
			"", "", "without IDKeys a signed id is an unknown id like any other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := memstore.New()
			irt := header.NewInReplyTo(s, &header.Options{IDKeys: tc.keys})
			fileAll(t, s, irt, tc.fixtures)
			got, err := irt.Correlate(ctx, parse(t, tc.msg))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Record, tc.why)
			assert.InDelta(t, tc.conf, got.Confidence, 1e-9, tc.why)
			assert.Equal(t, tc.tracked, got.CorrelatedWith != nil, tc.why)
			if tc.reason != "" {
				assert.Contains(t, got.Reason, tc.reason, tc.why)
			} else {
				assert.Empty(t, got.Reason, tc.why)
			}
			if tc.note != "" {
				found := false
				for _, e := range got.Evidence {
					found = found || strings.Contains(e.Note, tc.note)
				}
				assert.True(t, found, "%s: evidence %v lacks %q", tc.why, got.Evidence, tc.note)
			}
			if got.Found() {
				assert.Equal(t, correlate.InReplyTo, got.Method)
			}
		})
	}
}

// TestInReplyToSignedDeleted: after the tracked email is deleted (Untrack),
// a reply still reaches its record through the signed id.
func TestInReplyToSignedDeleted(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	keys := [][]byte{idKeyNew}
	irt := header.NewInReplyTo(s, &header.Options{IDKeys: keys})
	eng := correlate.NewEngine(s, &correlate.Chain{Correlators: []correlate.Correlator{irt}}, nil)
	rec := correlate.Record{Type: "incident", ID: "CAS-01042"}
	id := signID(t, rec, keys...)
	tr, err := eng.Track(ctx, parse(t, "Message-ID: "+id+"\r\nFrom: support@fabrikam.example\r\nTo: ann@example.com\r\nSubject: Printer\r\n\r\n"), correlate.Match{Record: rec})
	require.NoError(t, err)
	r := parse(t, "Message-ID: <r2@example.com>\r\nFrom: ann@example.com\r\nSubject: Re: Printer\r\nIn-Reply-To: "+id+"\r\n\r\n")
	d, err := eng.Correlate(ctx, r)
	require.NoError(t, err)
	require.NotNil(t, d.Match.CorrelatedWith, "while tracked, the tracked email is the match")
	require.NoError(t, eng.Untrack(ctx, tr.ID))
	d, err = eng.Correlate(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, rec, d.Match.Record, "deleted from the store, the id still names its record")
	assert.Nil(t, d.Match.CorrelatedWith)
}

func TestVerifyMessageIDErrorsWrap(t *testing.T) {
	_, err := header.VerifyMessageID("mc1.x.y.z@h", [][]byte{idKeyNew})
	assert.True(t, errors.Is(err, header.ErrBadSignature))
	assert.False(t, errors.Is(err, header.ErrNotSigned))
}
