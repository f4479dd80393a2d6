// Package cursor encodes the position of a page of a record's timeline
// (store.Store.Emails): the time and ID of the last email of the page
// before, in an opaque, URL-safe string that every store of this module
// uses.
package cursor

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/mailcorrelate/mailcorrelate/store"
)

// version is the first byte of every cursor, so that a later format can be
// told apart.
const version = 1

// maxLen bounds the text Decode reads: a version byte and two varints of at
// most 10 bytes each, in base64.
const maxLen = (1 + 2*binary.MaxVarintLen64 + 2) / 3 * 4

// Encode returns the cursor of the position after an email at time at (in
// the store's own unit) with ID id.
func Encode(at, id int64) string {
	var b [1 + 2*binary.MaxVarintLen64]byte
	p := append(b[:0], version)
	p = binary.AppendVarint(p, at)
	p = binary.AppendVarint(p, id)
	return base64.RawURLEncoding.EncodeToString(p)
}

// Decode returns the position Encode put in c. Anything Encode did not make
// is an error wrapping store.ErrBadCursor; it never panics.
func Decode(c string) (at, id int64, err error) {
	bad := func(why string) (int64, int64, error) {
		return 0, 0, fmt.Errorf("%w: %s", store.ErrBadCursor, why)
	}
	if len(c) > maxLen {
		return bad("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return bad("not a cursor")
	}
	if b[0] != version {
		return bad(fmt.Sprintf("unknown version %d", b[0]))
	}
	at, n := binary.Varint(b[1:])
	if n <= 0 {
		return bad("truncated")
	}
	id, m := binary.Varint(b[1+n:])
	if m <= 0 || 1+n+m != len(b) {
		return bad("truncated or trailing bytes")
	}
	if Encode(at, id) != c {
		return bad("not in canonical form")
	}
	return at, id, nil
}
