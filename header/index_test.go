package header_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/header"
)

// FILETIME helpers for building indexes the way clients do.
const ftUnixEpoch = 116_444_736_000_000_000

func toFT(t time.Time) uint64 { return uint64(t.UnixNano()/100 + ftUnixEpoch) }
func fromFT(ft uint64) time.Time {
	return time.Unix(0, 0).Add(time.Duration(ft-ftUnixEpoch) * 100).UTC()
}

var testGUID = header.GUID{0x36, 0x71, 0xbb, 0xf4, 0xce, 0xda, 0x50, 0x40, 0x93, 0x2e, 0xe5, 0xca, 0xd3, 0x0c, 0x50, 0xad}

// classicIndex builds an index the way Outlook desktop does: the top 48
// bits of the FILETIME, then blocks whose deltas count from the previous
// block's decoded time.
func classicIndex(start time.Time, g header.GUID, replies ...time.Time) []byte {
	ft := toFT(start)
	b := make([]byte, 22, 22+5*len(replies))
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], ft)
	copy(b, hdr[:6])
	copy(b[6:], g[:])
	prev := ft &^ (1<<16 - 1)
	for i, r := range replies {
		diff := toFT(r) - prev
		var v uint32
		var step uint64
		if diff>>49 == 0 {
			v, step = uint32(diff>>18)&0x7fffffff, uint64(uint32(diff>>18)&0x7fffffff)<<18
		} else {
			v, step = 0x80000000|uint32(diff>>23)&0x7fffffff, uint64(uint32(diff>>23)&0x7fffffff)<<23
		}
		prev += step
		b = binary.BigEndian.AppendUint32(b, v)
		b = append(b, byte(0x10+i))
	}
	return b
}

// modernIndex builds an index the way Exchange Online does: 0x01 and the
// top 40 bits of the FILETIME; the first delta counts from the header read
// as classic, the next ones from the previous reply.
func modernIndex(start time.Time, g header.GUID, replies ...time.Time) []byte {
	ft := toFT(start)
	b := make([]byte, 22, 22+5*len(replies))
	b[0] = 0x01
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], ft)
	copy(b[1:6], hdr[:5])
	copy(b[6:], g[:])
	var mis [8]byte
	copy(mis[:6], b[:6])
	prev := binary.BigEndian.Uint64(mis[:])
	for i, r := range replies {
		diff := toFT(r) - prev
		var v uint32
		if i > 0 && diff>>49 == 0 {
			v = uint32(diff>>18) & 0x7fffffff
			prev += uint64(v) << 18
		} else {
			v = 0x80000000 | uint32(diff>>23)&0x7fffffff
			prev += uint64(v&0x7fffffff) << 23
		}
		if i == 0 {
			prev = toFT(r) - (toFT(r)-prev)%(1<<54) // the decoded first reply, unwrapped
		}
		b = binary.BigEndian.AppendUint32(b, v)
		b = append(b, byte(0x20+i))
	}
	return b
}

func TestParseIndexLengths(t *testing.T) {
	valid := classicIndex(time.Date(2019, 9, 12, 20, 23, 2, 0, time.UTC), testGUID)
	long := bytes.Repeat([]byte{0x01}, header.MaxIndexLen+5)
	copy(long, valid)
	tests := []struct {
		name     string
		in       []byte
		wantLen  int // of the Index returned
		wantErr  bool
		wantDeep int
		reason   string
	}{
		{name: "Nil", in: nil, wantErr: true, reason: "no index at all"},
		{name: "Short", in: valid[:21], wantErr: true, reason: "a header is 22 bytes; nothing can be read from 21"},
		{name: "Root", in: valid, wantLen: 22, reason: "a bare header is the first message of a conversation"},
		{name: "TornBlock", in: append(append([]byte{}, valid...), 1, 2, 3), wantLen: 22, wantErr: true,
			reason: "3 bytes after the header are not a block: the header is still readable"},
		{name: "OneReply", in: append(append([]byte{}, valid...), 0, 0, 0, 1, 9), wantLen: 27, wantDeep: 1, reason: "header plus one block"},
		{name: "Longest", in: long[:header.MaxIndexLen], wantLen: header.MaxIndexLen, wantDeep: 200, reason: "200 blocks is the bound"},
		{name: "TooLong", in: long, wantLen: header.MaxIndexLen, wantErr: true, wantDeep: 200,
			reason: "beyond the bound the first 200 blocks are returned with an error"},
		{name: "TooLongAndTorn", in: long[:header.MaxIndexLen+1], wantLen: header.MaxIndexLen, wantErr: true, wantDeep: 200,
			reason: "the bound is checked before the block length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := header.ParseIndex(tt.in)
			if tt.wantErr {
				require.Error(t, err, tt.reason)
				assert.True(t, errors.Is(err, header.ErrBadIndex), "errors wrap ErrBadIndex")
			} else {
				require.NoError(t, err, tt.reason)
			}
			assert.Equal(t, tt.wantLen, len(x.Bytes()), tt.reason)
			assert.Equal(t, tt.wantDeep, x.Depth(), tt.reason)
			assert.Equal(t, tt.wantLen == 0, x.IsZero(), tt.reason)
		})
	}
}

func TestIndexRelations(t *testing.T) {
	t0 := time.Date(2021, 2, 2, 10, 57, 10, 0, time.UTC)
	root := classicIndex(t0, testGUID)
	reply := classicIndex(t0, testGUID, t0.Add(8*time.Minute))
	reply2 := classicIndex(t0, testGUID, t0.Add(8*time.Minute), t0.Add(time.Hour))
	otherGUID := testGUID
	otherGUID[15] ^= 0xff
	stranger := classicIndex(t0, otherGUID, t0.Add(8*time.Minute))

	r, err := header.ParseIndex(root)
	require.NoError(t, err)
	c1, err := header.ParseIndex(reply)
	require.NoError(t, err)
	c2, err := header.ParseIndex(reply2)
	require.NoError(t, err)
	s, err := header.ParseIndex(stranger)
	require.NoError(t, err)

	_, ok := r.Parent()
	assert.False(t, ok, "a root has no parent")
	p, ok := c1.Parent()
	require.True(t, ok)
	assert.Equal(t, r.Bytes(), p.Bytes(), "a reply's parent is its index minus the last block")
	p, _ = c2.Parent()
	assert.Equal(t, c1.Bytes(), p.Bytes(), "and so on down the thread")
	assert.Equal(t, r.Bytes(), c2.Root().Bytes(), "Root is the first 22 bytes")
	assert.Equal(t, r.Bytes(), r.Root().Bytes(), "a root is its own root")

	assert.True(t, c1.IsChildOf(r))
	assert.True(t, c2.IsChildOf(c1))
	assert.False(t, c2.IsChildOf(r), "a grandchild is not a child")
	assert.False(t, r.IsChildOf(c1), "nor is a parent its child's child")
	assert.False(t, s.IsChildOf(r), "same time, other GUID: another conversation")
	assert.True(t, c2.SameConversation(r))
	assert.False(t, s.SameConversation(r))
	assert.Equal(t, testGUID, c2.GUID())
	assert.Equal(t, "3671bbf4-ceda-5040-932e-e5cad30c50ad", testGUID.String())
	assert.Equal(t, header.Index{}.GUID(), header.GUID{}, "the zero Index has the zero GUID")

	// Appending to a parent's bytes must not write into the child.
	p, _ = c1.Parent()
	_ = append(p.Bytes(), 0xff)
	assert.Equal(t, reply, c1.Bytes(), "Parent's capacity is clipped")
}

func TestIndexVariants(t *testing.T) {
	t0 := time.Date(2019, 5, 1, 12, 33, 26, 521446000, time.UTC)
	opaque := func(head ...byte) []byte {
		b := make([]byte, 22)
		copy(b, head)
		copy(b[6:], testGUID[:])
		return b
	}
	tests := []struct {
		name   string
		in     []byte
		want   header.Variant
		reason string
	}{
		{name: "Modern", in: modernIndex(t0, testGUID), want: header.ModernIndex,
			reason: "0x01 then the FILETIME's top byte 0x01: Exchange Online's layout"},
		{name: "Classic", in: classicIndex(t0, testGUID), want: header.ClassicIndex,
			reason: "the first six bytes are a FILETIME of 2019: Outlook desktop's layout"},
		{name: "Zimbra", in: opaque(0x09, 0x71, 0x1c, 0x42, 0x3b, 0xb4), want: header.OpaqueIndex,
			reason: "Zimbra writes random bytes: the first is not 0x01"},
		{name: "OutlookSynthesized", in: opaque(0x01, 0x02, 0x44, 0x6f, 0x36, 0xed), want: header.OpaqueIndex,
			reason: "01 02 …: neither a modern FILETIME (year 2057+) nor a classic one (1830)"},
		{name: "ModernTooEarly", in: opaque(0x01, 0x01, 0x00, 0x00, 0x00, 0x00), want: header.OpaqueIndex,
			reason: "01 01 00 …: a modern header of the year 1829 is not a real time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := header.ParseIndex(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, x.Variant(), tt.reason)
			if tt.want == header.OpaqueIndex {
				assert.True(t, x.Time().IsZero(), "an opaque index has no time")
				assert.Zero(t, tt.want.Precision())
				return
			}
			got := x.Time()
			assert.False(t, got.After(t0), "%s: header time %s truncates %s", tt.reason, got, t0)
			assert.Less(t, t0.Sub(got), tt.want.Precision(), "%s: within the variant's precision", tt.reason)
		})
	}
	assert.Equal(t, "modern", header.ModernIndex.String())
	assert.Equal(t, "classic", header.ClassicIndex.String())
	assert.Equal(t, "opaque", header.OpaqueIndex.String())
	assert.Equal(t, "Variant(9)", header.Variant(9).String())
}

func TestIndexChildren(t *testing.T) {
	t0 := time.Date(2019, 5, 1, 12, 33, 26, 0, time.UTC)
	replies := []time.Time{
		t0.Add(12*time.Minute + 15*time.Second),
		t0.Add(2 * time.Hour),
		t0.Add(50 * time.Hour),
		t0.Add(500 * 24 * time.Hour),  // 1.4 years: still a fine delta
		t0.Add(1300 * 24 * time.Hour), // 2.2 years after the previous: the coarse bit
	}
	tests := []struct {
		name   string
		in     []byte
		tol    time.Duration
		reason string
	}{
		{name: "Classic", in: classicIndex(t0, testGUID, replies...), tol: 900 * time.Millisecond,
			reason: "classic deltas count from the header, 26 ms or 0.84 s units"},
		{name: "Modern", in: modernIndex(t0, testGUID, replies...), tol: 2600 * time.Millisecond,
			reason: "the modern first delta wraps from the misread header and is brought back; then normal deltas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := header.ParseIndex(tt.in)
			require.NoError(t, err)
			cs := x.Children()
			require.Len(t, cs, len(replies))
			prev := x.Time()
			for i, c := range cs {
				assert.InDelta(t, float64(replies[i].UnixNano()), float64(c.Time.UnixNano()), float64(tt.tol),
					"%s: block %d decodes to %s, want %s", tt.reason, i, c.Time, replies[i])
				assert.Equal(t, c.Time.Sub(prev), c.Delta, "block %d: Delta is the time since the previous block", i)
				assert.Equal(t, c, x.Child(i), "Child(i) agrees with Children")
				prev = c.Time
			}
			assert.True(t, cs[len(cs)-1].Coarse, "a 2.2-year delta needs the coarse bit")
			assert.False(t, cs[3].Coarse && tt.name == "Classic", "a 1.4-year delta fits the fine unit")
		})
	}
	assert.Panics(t, func() { header.Index{}.Child(0) }, "Child out of range panics like a slice index")
}

func TestIndexOpaqueChildren(t *testing.T) {
	b := make([]byte, 27)
	b[0] = 0x09
	binary.BigEndian.PutUint32(b[22:], 0x80000010)
	b[26] = 7
	x, err := header.ParseIndex(b)
	require.NoError(t, err)
	c := x.Child(0)
	assert.True(t, c.Time.IsZero(), "no header time, no reply time")
	assert.Equal(t, time.Duration(0x10<<23*100), c.Delta, "the raw delta is still reported")
	assert.True(t, c.Coarse)
	assert.Equal(t, uint8(7), c.Random)
}

func TestIndexString(t *testing.T) {
	x, err := header.ParseIndex(classicIndex(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), testGUID))
	require.NoError(t, err)
	assert.Len(t, x.String(), 32, "22 bytes are 32 base64 characters with padding")
	assert.Equal(t, 44, len(header.IndexKey(x)), "IndexKey is lower-case hex")
	assert.Equal(t, fromFT(toFT(x.Time())), x.Time(), "FILETIME helpers round-trip")
}
