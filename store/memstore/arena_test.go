package memstore

import (
	"strings"
	"testing"
	"unsafe"
)

func TestArena(t *testing.T) {
	var a arena
	texts := []string{"", "a", strings.Repeat("b", chunkSize-1), "c", strings.Repeat("d", bigLen), "e", strings.Repeat("f", 3*chunkSize), "g", strings.Repeat("h", chunkSize/2), strings.Repeat("i", chunkSize/2+1)}
	refs := make([]sref, len(texts))
	for i, s := range texts {
		refs[i] = a.add(s)
	}
	for i, s := range texts {
		if got := a.str(refs[i]); got != s {
			t.Errorf("text %d: got %d bytes, want %d", i, len(got), len(s))
		}
	}
	if refs[0] != 0 {
		t.Error("the empty text must be the zero sref")
	}
	for i, r := range refs[1:] {
		if r == 0 {
			t.Errorf("text %d got the zero sref", i+1)
		}
	}
}

func TestRowSize(t *testing.T) {
	if n := unsafe.Sizeof(rec{}); n != 88 {
		t.Errorf("a row is %d bytes, want 88: the package documentation and BENCHMARKS.md count on it", n)
	}
}
