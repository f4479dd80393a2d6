package sqlstore

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// A list of strings (the participants of a tracked email, the kinds and
// values of its keys) is stored in one column, each string as its length
// (an unsigned varint) followed by its bytes. An empty list is NULL.

// encodeStrings returns the column value of ps (nil for none).
func encodeStrings(ps []string) []byte {
	if len(ps) == 0 {
		return nil
	}
	n := 0
	for _, p := range ps {
		n += binary.MaxVarintLen64 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range ps {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

var errCorrupt = errors.New("corrupt string list column")

// decodeStrings reverses encodeStrings. A column it cannot read is an
// error, never a panic; what it allocates is bounded by len(b).
func decodeStrings(b []byte) ([]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var out []string
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return out, errCorrupt
		}
		out = append(out, string(b[k:k+int(n)]))
		b = b[k+int(n):]
	}
	return out, nil
}

// encodeKeys returns the index_keys column of an email with keys: kind and
// value of each key, in turn. Delete reads it to find the email's postings,
// which spares the key table an index on email.
func encodeKeys(keys []correlate.Key) []byte {
	if len(keys) == 0 {
		return nil
	}
	ss := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		ss = append(ss, k.Kind, k.Value)
	}
	return encodeStrings(ss)
}

// decodeKeys reverses encodeKeys.
func decodeKeys(b []byte) ([]correlate.Key, error) {
	ss, err := decodeStrings(b)
	if err != nil || len(ss)%2 != 0 {
		return nil, errCorrupt
	}
	keys := make([]correlate.Key, len(ss)/2)
	for i := range keys {
		keys[i] = correlate.Key{Kind: ss[2*i], Value: ss[2*i+1]}
	}
	return keys, nil
}

// Times are stored as Unix microseconds, PostgreSQL's precision; finer
// digits are dropped (rounded toward the past).

func toMicro(t time.Time) int64 { return t.UnixMicro() }

func fromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }

// boundMicro returns the first stored instant not before t: t itself when it
// falls on a microsecond, else the next microsecond. A window [Since, Until)
// over stored times is [boundMicro(Since), boundMicro(Until)).
func boundMicro(t time.Time) int64 {
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us
}

// Values in B-tree indexes — key kinds and values, Message-IDs, sequence
// names — are kept as themselves up to maxIndexed bytes. A longer one
// (mail from strangers has From addresses and Message-IDs of kilobytes;
// PostgreSQL refuses an index entry of more than 2,704 bytes, and SQLite
// moves long ones out of the index page) is indexed as hashedPrefix and its
// SHA-256 instead, and so is a value that itself begins with hashedPrefix,
// so that no value can pass for another's hash.
const (
	maxIndexed   = 512
	hashedPrefix = "\x00sha256:"
)

// indexValue returns what the indexes keep of v.
func indexValue(v string) string {
	if len(v) <= maxIndexed && !strings.HasPrefix(v, hashedPrefix) {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return hashedPrefix + string(sum[:])
}

// str returns the driver value of a string column: BYTEA on PostgreSQL (so
// every byte string round-trips), TEXT on SQLite (which stores any bytes).
func (s *Store) str(v string) any {
	if s.pg {
		return bytesOf(v)
	}
	return v
}

// bytesOf returns v's bytes, never nil (nil would be NULL).
func bytesOf(v string) []byte {
	if v == "" {
		return []byte{}
	}
	return []byte(v)
}

// ix returns the driver value of an indexed string column: v as the
// indexes keep it (see indexValue).
func (s *Store) ix(v string) any { return s.str(indexValue(v)) }

// msgID returns the driver value of the message_id column: the Message-ID
// as the unique index keeps it, NULL when empty, so that emails without
// one never collide in the unique index.
func (s *Store) msgID(v string) any {
	if v == "" {
		return nil
	}
	return s.ix(v)
}

// msgIDLong returns the driver value of the message_id_long column: the
// Message-ID when the index keeps it hashed, else NULL.
func (s *Store) msgIDLong(v string) any {
	if indexValue(v) == v {
		return nil
	}
	return s.str(v)
}

// blob returns the driver value of a byte column: NULL when empty.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// dedupKeys returns keys with repeats removed, in first-seen order. It
// returns keys itself when there are none.
func dedupKeys(keys []correlate.Key) []correlate.Key {
	if len(keys) < 2 {
		return keys
	}
	if len(keys) <= 16 {
		out := make([]correlate.Key, 0, len(keys))
		for _, k := range keys {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
		return out
	}
	seen := make(map[correlate.Key]struct{}, len(keys))
	out := make([]correlate.Key, 0, len(keys))
	for _, k := range keys {
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	return out
}
