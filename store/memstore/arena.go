package memstore

import "unsafe"

// An sref locates a text in an arena: chunk (1-based, 24 bits), offset (20
// bits) and length (20 bits). The zero sref is the empty string.
type sref uint64

const (
	chunkBits = 20
	chunkSize = 1 << chunkBits
	lenMask   = 1<<20 - 1
	// bigLen marks a text that has a chunk of its own; its length is the
	// chunk's.
	bigLen = lenMask
)

// An arena is append-only storage for texts. Chunks are never written
// again once a text is in them, so strings made by str may point into them
// for as long as they live: the garbage collector keeps a chunk alive while
// any such string does.
type arena struct {
	chunks [][]byte
	cur    int // 1-based index of the chunk small texts go to; 0 before the first
}

func (a *arena) add(s string) sref {
	if s == "" {
		return 0
	}
	n := len(s)
	if n >= bigLen {
		a.chunks = append(a.chunks, []byte(s))
		return sref(uint64(len(a.chunks))<<40 | bigLen)
	}
	if a.cur == 0 || len(a.chunks[a.cur-1])+n > chunkSize {
		a.chunks = append(a.chunks, make([]byte, 0, chunkSize))
		a.cur = len(a.chunks)
	}
	c := a.cur - 1
	off := len(a.chunks[c])
	a.chunks[c] = append(a.chunks[c], s...)
	return sref(uint64(c+1)<<40 | uint64(off)<<20 | uint64(n))
}

func (a *arena) str(r sref) string {
	if r == 0 {
		return ""
	}
	c := a.chunks[int(r>>40)-1]
	n := int(r & lenMask)
	if n == bigLen {
		return unsafe.String(unsafe.SliceData(c), len(c))
	}
	off := int(r>>20) & lenMask
	return unsafe.String(&c[off], n)
}
