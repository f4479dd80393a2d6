package header

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Layout of an Exchange conversation index (PidTagConversationIndex, carried
// base64-encoded in the Thread-Index field), MS-OXOMSG §2.2.1.3.
const (
	// IndexHeaderLen is the length of the header block: a reserved byte,
	// five bytes of FILETIME and a 16-byte GUID. It identifies the
	// conversation (its root).
	IndexHeaderLen = 22
	// IndexBlockLen is the length of one child block, appended per reply or
	// forward: a bit and 31 bits of time delta, then one random byte.
	IndexBlockLen = 5
	// MaxIndexLen is the longest index ParseIndex accepts: the header and
	// 200 child blocks. Dynamics stores conversationindex in 2048
	// characters, 1024 bytes written as hex; real threads stay far below
	// (the longest in the usrp-users corpus has 8 blocks).
	MaxIndexLen = IndexHeaderLen + 200*IndexBlockLen
)

// ErrBadIndex is wrapped by the errors of [ParseIndex].
var ErrBadIndex = errors.New("header: malformed conversation index")

// A Variant says how the header block of an index encodes its time.
// Real clients disagree with the specification and with each other
// (see the package documentation, "Thread-Index variants").
type Variant uint8

const (
	// OpaqueIndex is an index whose header is not a plausible time in either
	// layout: written by a non-Microsoft client (Zimbra fills it with random
	// bytes) or synthesized by Outlook for a conversation that arrived
	// without an index. Its bytes still identify the conversation; its
	// times are unknown.
	OpaqueIndex Variant = iota
	// ClassicIndex is the layout of Outlook desktop and of the older
	// MS-OXOMSG revision: bytes 0–5 are the top 48 bits of the FILETIME (the
	// "reserved" 0x01 is in fact the FILETIME's top byte), precision 6.55 ms;
	// child deltas count from the header time.
	ClassicIndex
	// ModernIndex is the layout of the current MS-OXOMSG, written by
	// Exchange Online and Outlook on the web: a 0x01 byte, then the top 40
	// bits of the FILETIME, precision 1.68 s. Its first child delta counts
	// from the classic misreading of the header, so it always has the
	// coarse bit set and wraps every 2⁵⁴×100 ns (57 years).
	ModernIndex
)

// String returns "opaque", "classic" or "modern".
func (v Variant) String() string {
	switch v {
	case ClassicIndex:
		return "classic"
	case ModernIndex:
		return "modern"
	case OpaqueIndex:
		return "opaque"
	}
	return fmt.Sprintf("Variant(%d)", uint8(v))
}

// Precision returns the resolution of the header time in variant v: the
// header keeps only the top bits of the FILETIME, so a decoded time is up
// to this much earlier than the moment it recorded. Zero for OpaqueIndex.
func (v Variant) Precision() time.Duration {
	switch v {
	case ClassicIndex:
		return 1 << 16 * 100 * time.Nanosecond // 6.5536 ms
	case ModernIndex:
		return 1 << 24 * 100 * time.Nanosecond // 1.6777216 s
	}
	return 0
}

// A GUID is the 16-byte conversation identifier of an index header, in the
// order the index stores it (MS-OXOMSG stores Data1, Data2 and Data3
// big-endian, so the bytes read in order).
type GUID [16]byte

// String returns the GUID in the usual 8-4-4-4-12 hexadecimal form.
func (g GUID) String() string {
	const hexdigits = "0123456789abcdef"
	var b [36]byte
	j := 0
	for i, c := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexdigits[c>>4], hexdigits[c&15]
		j += 2
	}
	return string(b[:])
}

// An Index is a decoded Exchange conversation index: a 22-byte header (the
// conversation's root) followed by one 5-byte child block per reply or
// forward. A reply's index is its parent's index plus one block, so
// [Index.Parent] and [Index.Root] are byte prefixes.
//
// An Index refers to the bytes it was parsed from; do not modify them while
// the Index is in use. The zero Index is empty (no header). Index values are
// safe for concurrent use.
type Index struct {
	b []byte
}

// ParseIndex checks the layout of a conversation index (the base64-decoded
// Thread-Index field, as in correlate.Message.ThreadIndex) and returns it.
//
// A well-formed index is IndexHeaderLen bytes plus a multiple of
// IndexBlockLen, at most MaxIndexLen. For anything else ParseIndex returns
// an error wrapping ErrBadIndex together with what it could read: the
// longest well-formed prefix (the zero Index when b is shorter than a
// header). It does not copy b, never panics, and runs in constant time.
func ParseIndex(b []byte) (Index, error) {
	switch n := len(b); {
	case n == 0:
		return Index{}, fmt.Errorf("%w: empty", ErrBadIndex)
	case n < IndexHeaderLen:
		return Index{}, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrBadIndex, n, IndexHeaderLen)
	case n > MaxIndexLen:
		return Index{b[:MaxIndexLen]}, fmt.Errorf("%w: %d bytes, longer than %d", ErrBadIndex, n, MaxIndexLen)
	case (n-IndexHeaderLen)%IndexBlockLen != 0:
		keep := n - (n-IndexHeaderLen)%IndexBlockLen
		return Index{b[:keep]}, fmt.Errorf("%w: %d bytes after the header, not a multiple of %d",
			ErrBadIndex, n-IndexHeaderLen, IndexBlockLen)
	}
	return Index{b}, nil
}

// IsZero reports whether x is the zero Index.
func (x Index) IsZero() bool { return len(x.b) == 0 }

// Bytes returns the index bytes. They are shared with x: do not modify them.
func (x Index) Bytes() []byte { return x.b }

// String returns the index in base64, as the Thread-Index field carries it.
func (x Index) String() string { return base64.StdEncoding.EncodeToString(x.b) }

// Depth returns the number of child blocks: 0 for the first message of a
// conversation, 1 for a reply to it, and so on.
func (x Index) Depth() int {
	if len(x.b) < IndexHeaderLen {
		return 0
	}
	return (len(x.b) - IndexHeaderLen) / IndexBlockLen
}

// Root returns the header block alone: the index of the message that
// started the conversation. It is x itself when x has no child blocks.
func (x Index) Root() Index {
	if len(x.b) < IndexHeaderLen {
		return Index{}
	}
	return Index{x.b[:IndexHeaderLen:IndexHeaderLen]}
}

// Parent returns the index of the message x answers: x without its last
// child block. It reports false, and the zero Index, when x has no child
// block.
func (x Index) Parent() (Index, bool) {
	if x.Depth() == 0 {
		return Index{}, false
	}
	n := len(x.b) - IndexBlockLen
	return Index{x.b[:n:n]}, true
}

// IsChildOf reports whether x is p plus exactly one child block: whether the
// message with index x replies to (or forwards) the message with index p.
func (x Index) IsChildOf(p Index) bool {
	return len(p.b) >= IndexHeaderLen && len(x.b) == len(p.b)+IndexBlockLen && string(x.b[:len(p.b)]) == string(p.b)
}

// SameConversation reports whether x and y have the same header block.
func (x Index) SameConversation(y Index) bool {
	return len(x.b) >= IndexHeaderLen && len(y.b) >= IndexHeaderLen &&
		string(x.b[:IndexHeaderLen]) == string(y.b[:IndexHeaderLen])
}

// GUID returns the conversation GUID of the header (bytes 6–21).
func (x Index) GUID() GUID {
	var g GUID
	if len(x.b) >= IndexHeaderLen {
		copy(g[:], x.b[6:IndexHeaderLen])
	}
	return g
}

// Plausible header times, 1980-01-01 and 2100-01-01 as FILETIMEs: an index
// whose header decodes outside this window in both layouts is OpaqueIndex.
const (
	minIndexTime = (315_532_800 + ftUnixEpoch/ftPerSecond) * ftPerSecond
	maxIndexTime = (4_102_444_800 + ftUnixEpoch/ftPerSecond) * ftPerSecond
)

// classic returns the header read in the classic layout: bytes 0–5 as the
// top 48 bits of a FILETIME.
func (x Index) classic() uint64 {
	return uint64(x.b[0])<<56 | uint64(x.b[1])<<48 | uint64(x.b[2])<<40 |
		uint64(x.b[3])<<32 | uint64(x.b[4])<<24 | uint64(x.b[5])<<16
}

// modern returns the header read in the modern layout: bytes 1–5 as the top
// 40 bits of a FILETIME.
func (x Index) modern() uint64 {
	return uint64(x.b[1])<<56 | uint64(x.b[2])<<48 | uint64(x.b[3])<<40 |
		uint64(x.b[4])<<32 | uint64(x.b[5])<<24
}

// Variant returns the layout of x's header, recognized from its bytes: a
// 0x01 byte followed by 0x01 (the top byte of every FILETIME from 1829 to
// 2057) is modern, a header whose first six bytes are a FILETIME between
// 1980 and 2100 is classic, anything else is opaque.
func (x Index) Variant() Variant {
	if len(x.b) < IndexHeaderLen || x.b[0] != 0x01 {
		return OpaqueIndex
	}
	if ft := x.modern(); x.b[1] == 0x01 && ft >= minIndexTime && ft < maxIndexTime {
		return ModernIndex
	}
	if ft := x.classic(); ft >= minIndexTime && ft < maxIndexTime {
		return ClassicIndex
	}
	return OpaqueIndex
}

// headerFT returns the header FILETIME and whether the variant has one.
func (x Index) headerFT() (uint64, Variant, bool) {
	switch v := x.Variant(); v {
	case ModernIndex:
		return x.modern(), v, true
	case ClassicIndex:
		return x.classic(), v, true
	default:
		return 0, v, false
	}
}

// Time returns the time recorded in the header, in UTC: when the
// conversation's first message was created (composing started, which is
// earlier than its Date field by the time spent writing it), truncated to
// the variant's [Variant.Precision]. It returns the zero time for an
// OpaqueIndex.
func (x Index) Time() time.Time {
	ft, _, ok := x.headerFT()
	if !ok {
		return time.Time{}
	}
	return fileTime(ft)
}

// A Child is one decoded child block of an index.
type Child struct {
	// Coarse is the block's DC bit: the delta counts units of 2²³×100 ns
	// (0.84 s) instead of 2¹⁸×100 ns (26.2 ms).
	Coarse bool
	// Delta is the time since the previous block (the parent message), at
	// the block's resolution. For the first block of a ModernIndex it is the
	// real delta, recovered from the wrapped value. For an OpaqueIndex it is
	// the raw encoded value, which may be meaningless.
	Delta time.Duration
	// Random is the block's last byte: a random number and, in older
	// clients, a sequence count.
	Random uint8
	// Time is when the reply was created, in UTC; zero for an OpaqueIndex.
	Time time.Time
}

// blockDelta returns the raw delta of the child block at byte offset off, in
// FILETIME units, and its coarse bit.
func (x Index) blockDelta(off int) (uint64, bool) {
	v := binary.BigEndian.Uint32(x.b[off:])
	d := uint64(v & 0x7fffffff)
	if v&0x80000000 != 0 {
		return d << 23, true
	}
	return d << 18, false
}

// wrap is the period of a modern index's first delta, in FILETIME units.
const wrap = 1 << 54

// Child returns the i-th child block (0 is the oldest). It panics if i is
// out of range [0, Depth()), like a slice index.
func (x Index) Child(i int) Child {
	if i < 0 || i >= x.Depth() {
		panic(fmt.Sprintf("header: Index.Child(%d) with depth %d", i, x.Depth()))
	}
	var c Child
	x.children(func(j int, ch Child) bool {
		if j == i {
			c = ch
			return false
		}
		return true
	})
	return c
}

// Children returns every child block, oldest first.
func (x Index) Children() []Child {
	cs := make([]Child, 0, x.Depth())
	x.children(func(_ int, ch Child) bool {
		cs = append(cs, ch)
		return true
	})
	return cs
}

// children decodes the blocks in order and calls fn for each until it
// returns false.
func (x Index) children(fn func(i int, c Child) bool) {
	hft, v, known := x.headerFT()
	// Classic: times accumulate from the header time. Modern: they
	// accumulate from the classic reading of the header and are brought
	// back, modulo 2⁵⁴, next to the real header time.
	acc := hft
	if v == ModernIndex {
		acc = x.classic()
	}
	prev := hft
	for i, off := 0, IndexHeaderLen; off+IndexBlockLen <= len(x.b); i, off = i+1, off+IndexBlockLen {
		d, coarse := x.blockDelta(off)
		acc += d
		c := Child{Coarse: coarse, Random: x.b[off+4]}
		if !known {
			c.Delta = ftDuration(d)
		} else {
			t := acc
			if v == ModernIndex {
				t = nearest(acc, hft)
			}
			c.Time = fileTime(t)
			c.Delta = ftDuration(t - prev)
			if t < prev {
				c.Delta = -ftDuration(prev - t)
			}
			prev = t
		}
		if !fn(i, c) {
			return
		}
	}
}

// nearest returns the value congruent to v modulo 2⁵⁴ that is closest to
// ref.
func nearest(v, ref uint64) uint64 {
	c := ref&^(wrap-1) | v&(wrap-1)
	best, dist := c, absDiff(c, ref)
	for _, alt := range [2]uint64{c - wrap, c + wrap} {
		if d := absDiff(alt, ref); d < dist {
			best, dist = alt, d
		}
	}
	return best
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// FILETIME: 100 ns units since 1601-01-01 UTC.
const (
	ftPerSecond = 10_000_000
	ftUnixEpoch = 116_444_736_000_000_000 // 1970-01-01 as a FILETIME
)

func fileTime(ft uint64) time.Time {
	sec := int64(ft/ftPerSecond) - ftUnixEpoch/ftPerSecond
	return time.Unix(sec, int64(ft%ftPerSecond)*100).UTC()
}

func ftDuration(d uint64) time.Duration {
	const maxFT = uint64(1<<63-1) / 100
	if d > maxFT {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(d * 100)
}
