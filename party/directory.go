package party

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// Record types of Dynamics 365 that take part in address resolution, by
// their logical names. A [Directory] may use any type names; these are the
// ones [DefaultOrder] ranks and the incoming-email filter recognizes.
const (
	TypeSystemUser   = "systemuser"   // a user of the CRM
	TypeContact      = "contact"      // a person at a customer
	TypeAccount      = "account"      // a customer company
	TypeLead         = "lead"         // a prospect
	TypeEquipment    = "equipment"    // a facility or piece of equipment
	TypeTeam         = "team"         // a team of users
	TypeBusinessUnit = "businessunit" // a business unit
	TypeQueue        = "queue"        // a shared mailbox such as support@
)

// An Entry files one email address under one record: a person, company or
// mailbox of the CRM that uses the address.
type Entry struct {
	// Address is the normalized address ("anna@contoso.example"), or "@"
	// and a normalized domain for a domain entry ("@contoso.example").
	Address string `json:"address"`
	// Record is the record that uses the address.
	Record correlate.Record `json:"record"`
	// Active is false for a deactivated record; resolution skips it.
	Active bool `json:"active"`
	// Account is the customer account the record belongs to (Dynamics'
	// parentcustomerid for a contact); zero when none. Leave it zero for
	// users, teams and queues of your own organization.
	Account correlate.Record `json:"account,omitzero"`
	// Owner is the user who owns the record; zero when unknown. It matters
	// only for Dynamics' rule that a sender who is also a user resolves to
	// a record the tracking user owns (see [Options]).
	Owner correlate.Record `json:"owner,omitzero"`
}

// CustomerAccount returns the account the entry's record belongs to: its
// Account, or the record itself when it is an account.
func (e Entry) CustomerAccount() correlate.Record {
	if !e.Account.IsZero() {
		return e.Account
	}
	if e.Record.Type == TypeAccount {
		return e.Record
	}
	return correlate.Record{}
}

// A Directory is the caller's address book: the records that use each email
// address. It is the only thing this package needs from a CRM.
//
// Keys are normalized addresses, produced by the [Normalizer] of the
// [Resolver] that asks, or "@" followed by a normalized domain for domain
// entries ("@contoso.example": a customer account that owns a whole
// domain). An implementation backed by a database must store its addresses
// normalized with the same rules; a Directory that has a method
// Normalizer() *Normalizer tells the Resolver which rules it used.
type Directory interface {
	// Lookup appends the entries filed under key to dst, active and
	// inactive alike, in a stable order, and returns the extended slice.
	// An unknown key is an empty result, not an error; an error means the
	// directory could not answer.
	Lookup(ctx context.Context, key string, dst []Entry) ([]Entry, error)
}

// A BatchDirectory is a [Directory] that can look up many keys at once: one
// query to a database instead of one per address, or, in memory, the cache
// misses of several keys overlapped. A [Resolver] uses it when its
// Directory has it, for all the addresses of a message together.
type BatchDirectory interface {
	Directory
	// LookupBatch appends the entries of each key to dst, key after key
	// and each as Lookup orders them, and appends to ends, for each key,
	// len(dst) after its entries. It returns the extended slices.
	LookupBatch(ctx context.Context, keys []string, dst []Entry, ends []int) ([]Entry, []int, error)
}

// A MemDirectory is an in-memory [Directory]. Build it with
// [NewMemDirectory] or [LoadDirectory]; it is safe for concurrent use, so
// a contact created while mail is being processed can be added at once.
//
// It is built for directories of millions of addresses: each entry is one
// block of bytes (its address, record id and a small header) in
// append-only chunks, and the index is an open-addressing table of
// integers. A lookup touches two places in memory, and the garbage
// collector has no pointers to scan: a million addresses take about 70 MB.
type MemDirectory struct {
	norm *Normalizer
	seed maphash.Seed

	mu      sync.RWMutex
	slots   []uint64 // hash<<32 | block reference of the chain head; 0 = empty
	used    int
	blocks  blocks
	types   []string
	typeIdx map[string]uint16
	refs    []correlate.Record // interned accounts and owners; refs[0] is the zero Record
	refIdx  map[correlate.Record]int32
	n       int
}

// MaxRecordID is the longest record id a MemDirectory stores, in bytes.
const MaxRecordID = 4096

// NewMemDirectory returns an empty directory that normalizes addresses with
// n; a nil n means the default rules.
func NewMemDirectory(n *Normalizer) *MemDirectory {
	if n == nil {
		n = &Normalizer{}
	}
	return &MemDirectory{
		norm:    n,
		seed:    maphash.MakeSeed(),
		typeIdx: make(map[string]uint16),
		refs:    []correlate.Record{{}},
		refIdx:  map[correlate.Record]int32{{}: 0},
	}
}

// Normalizer returns the rules the directory normalizes addresses with. A
// [Resolver] built without its own Normalizer uses them.
func (d *MemDirectory) Normalizer() *Normalizer { return d.norm }

// Len returns the number of entries.
func (d *MemDirectory) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.n
}

// key normalizes an address, or a domain written "@domain".
func (d *MemDirectory) key(addr string) (string, error) {
	if s := strings.TrimSpace(addr); strings.HasPrefix(s, "@") && strings.IndexByte(s[1:], '@') < 0 {
		dom, err := d.norm.NormalizeDomain(s)
		if err != nil {
			return "", err
		}
		return "@" + dom, nil
	}
	return d.norm.Normalize(addr)
}

// find returns the slot of key (occupied, or the empty one where it would
// go; -1 when the table is empty) and the key's hash. The caller holds the
// lock.
func (d *MemDirectory) find(key string) (int, uint32) {
	h := uint32(maphash.String(d.seed, key))
	return d.findHashed(key, h), h
}

// findHashed is find for a key whose hash is known.
func (d *MemDirectory) findHashed(key string, h uint32) int {
	if len(d.slots) == 0 {
		return -1
	}
	mask := len(d.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := d.slots[i]
		if s == 0 {
			return i
		}
		if uint32(s>>32) == h && d.blocks.key(uint32(s)) == key {
			return i
		}
	}
}

// grow doubles the slot table; the caller holds the write lock.
func (d *MemDirectory) grow() {
	size := 1024
	if len(d.slots) > 0 {
		size = 2 * len(d.slots)
	}
	old := d.slots
	d.slots = make([]uint64, size)
	mask := size - 1
	for _, s := range old {
		if s == 0 {
			continue
		}
		for i := int(uint32(s>>32)) & mask; ; i = (i + 1) & mask {
			if d.slots[i] == 0 {
				d.slots[i] = s
				break
			}
		}
	}
}

// Add files e.Address under e.Record; e.Address is normalized first and may
// be "@domain" for a domain entry. Adding an address and record that are
// already filed replaces the entry's Active, Account and Owner. It returns
// an error matching [ErrBadAddress] for an address that cannot be
// normalized, and one for a zero or incomplete Record or an id longer than
// MaxRecordID.
func (d *MemDirectory) Add(e Entry) error {
	key, err := d.key(e.Address)
	if err != nil {
		return err
	}
	if e.Record.Type == "" || e.Record.ID == "" {
		return fmt.Errorf("party: add %q: record %q has no type or no id", key, e.Record)
	}
	if len(e.Record.ID) > MaxRecordID {
		return fmt.Errorf("party: add %q: record id longer than %d bytes", key, MaxRecordID)
	}
	if len(key) > 255 { // cannot happen: normalized keys are at most 254 bytes
		return fmt.Errorf("party: add %q: key too long", clip(key, 100))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.blocks.full() {
		return fmt.Errorf("party: add %q: directory full", key)
	}
	typ, ok := d.typeIdx[e.Record.Type]
	if !ok {
		if len(d.types) >= 1<<16-1 {
			return fmt.Errorf("party: add %q: too many record types", key)
		}
		typ = uint16(len(d.types))
		d.types = append(d.types, e.Record.Type)
		d.typeIdx[e.Record.Type] = typ
	}
	if 2*(d.used+1) > len(d.slots) {
		d.grow()
	}
	h := header{typ: typ, active: e.Active, account: d.ref(e.Account), owner: d.ref(e.Owner)}
	slot, hash := d.find(key)
	if d.slots[slot] == 0 {
		d.slots[slot] = uint64(hash)<<32 | uint64(d.blocks.add(h, key, e.Record.ID))
		d.used++
		d.n++
		return nil
	}
	for b := uint32(d.slots[slot]); ; {
		cur := d.blocks.header(b)
		if cur.typ == typ && d.blocks.id(b) == e.Record.ID {
			if cur.removed {
				d.n++
			}
			h.next = cur.next
			d.blocks.setHeader(b, h)
			return nil
		}
		if cur.next == 0 {
			cur.next = d.blocks.add(h, key, e.Record.ID)
			d.blocks.setHeader(b, cur)
			d.n++
			return nil
		}
		b = cur.next
	}
}

// ref interns r; the caller holds the write lock.
func (d *MemDirectory) ref(r correlate.Record) int32 {
	if i, ok := d.refIdx[r]; ok {
		return i
	}
	i := int32(len(d.refs))
	d.refs = append(d.refs, r)
	d.refIdx[r] = i
	return i
}

// Remove deletes the entry filing addr under r and reports whether there
// was one.
func (d *MemDirectory) Remove(addr string, r correlate.Record) bool {
	key, err := d.key(addr)
	if err != nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	slot, _ := d.find(key)
	if slot < 0 || d.slots[slot] == 0 {
		return false
	}
	for b := uint32(d.slots[slot]); b != 0; {
		h := d.blocks.header(b)
		if !h.removed && d.types[h.typ] == r.Type && d.blocks.id(b) == r.ID {
			h.removed = true
			d.blocks.setHeader(b, h)
			d.n--
			return true
		}
		b = h.next
	}
	return false
}

// Lookup appends the entries filed under key (a normalized address or
// "@domain") to dst in the order they were added.
func (d *MemDirectory) Lookup(ctx context.Context, key string, dst []Entry) ([]Entry, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.collect(key, uint32(maphash.String(d.seed, key)), dst), nil
}

// LookupBatch implements [BatchDirectory]. It first issues the memory
// reads of all the keys (index slots, then entry blocks) back to back, so
// that their cache misses overlap instead of following one another, then
// collects the entries as Lookup does.
func (d *MemDirectory) LookupBatch(ctx context.Context, keys []string, dst []Entry, ends []int) ([]Entry, []int, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	const batch = 16
	var hashes [batch]uint32
	var heads [batch]uint64
	for start := 0; start < len(keys); start += batch {
		group := keys[start:min(start+batch, len(keys))]
		if len(d.slots) > 0 {
			mask := len(d.slots) - 1
			for i, k := range group {
				hashes[i] = uint32(maphash.String(d.seed, k))
			}
			for i := range group {
				heads[i] = d.slots[int(hashes[i])&mask]
			}
			var accounts [batch]int32
			for i := range group {
				if s := heads[i]; s != 0 && uint32(s>>32) == hashes[i] {
					accounts[i] = d.blocks.header(uint32(s)).account
				}
			}
			var warm int
			for i := range group {
				warm += len(d.refs[accounts[i]].ID)
			}
			runtime.KeepAlive(warm)
			for i, k := range group {
				dst = d.collect(k, hashes[i], dst)
				ends = append(ends, len(dst))
			}
			continue
		}
		for range group {
			ends = append(ends, len(dst))
		}
	}
	return dst, ends, nil
}

// collect appends the entries under key, whose hash is h, to dst; the
// caller holds the lock.
func (d *MemDirectory) collect(key string, h uint32, dst []Entry) []Entry {
	slot := d.findHashed(key, h)
	if slot < 0 || d.slots[slot] == 0 {
		return dst
	}
	for b := uint32(d.slots[slot]); b != 0; {
		h := d.blocks.header(b)
		if !h.removed {
			dst = append(dst, Entry{
				Address: key,
				Record:  correlate.Record{Type: d.types[h.typ], ID: d.blocks.id(b)},
				Active:  h.active,
				Account: d.refs[h.account],
				Owner:   d.refs[h.owner],
			})
		}
		b = h.next
	}
	return dst
}

// A header is the fixed part of an entry's block.
type header struct {
	next    uint32 // block of the next entry under the same key; 0 = none
	account int32  // index into refs; 0 = none
	owner   int32
	typ     uint16
	active  bool
	removed bool
}

// Block layout: next (4 bytes), account (4), owner (4), type (2), flags
// (1), key length (1), id length (2), key, id; integers little-endian.
const (
	headerLen   = 18
	flagActive  = 1
	flagRemoved = 2
	blockChunk  = 1 << 20
	maxChunks   = 1<<12 - 1
)

// blocks is append-only storage for entry blocks in chunks of 1 MiB. A
// block is referenced by (chunk+1)<<20 | offset, never 0. The key and id
// bytes of a block are never written again, so strings made by key and id
// may point into the chunks for as long as they live; only headers change.
type blocks struct {
	chunks [][]byte
}

func (bs *blocks) full() bool {
	return len(bs.chunks) >= maxChunks && len(bs.chunks[len(bs.chunks)-1])+headerLen+255+MaxRecordID > blockChunk
}

// add appends a block and returns its reference; key is at most 255 bytes
// and id at most MaxRecordID, so a block always fits in a chunk.
func (bs *blocks) add(h header, key, id string) uint32 {
	n := headerLen + len(key) + len(id)
	if len(bs.chunks) == 0 || len(bs.chunks[len(bs.chunks)-1])+n > blockChunk {
		bs.chunks = append(bs.chunks, make([]byte, 0, blockChunk))
	}
	c := len(bs.chunks) - 1
	off := len(bs.chunks[c])
	chunk := bs.chunks[c][:off+headerLen]
	putHeader(chunk[off:], h)
	chunk[off+15] = uint8(len(key))
	binary.LittleEndian.PutUint16(chunk[off+16:], uint16(len(id)))
	chunk = append(chunk, key...)
	bs.chunks[c] = append(chunk, id...)
	return uint32(c+1)<<20 | uint32(off)
}

func (bs *blocks) at(b uint32) []byte {
	return bs.chunks[b>>20-1][b&(blockChunk-1):]
}

func putHeader(p []byte, h header) {
	binary.LittleEndian.PutUint32(p[0:], h.next)
	binary.LittleEndian.PutUint32(p[4:], uint32(h.account))
	binary.LittleEndian.PutUint32(p[8:], uint32(h.owner))
	binary.LittleEndian.PutUint16(p[12:], h.typ)
	var f uint8
	if h.active {
		f |= flagActive
	}
	if h.removed {
		f |= flagRemoved
	}
	p[14] = f
}

func (bs *blocks) header(b uint32) header {
	p := bs.at(b)
	return header{
		next:    binary.LittleEndian.Uint32(p[0:]),
		account: int32(binary.LittleEndian.Uint32(p[4:])),
		owner:   int32(binary.LittleEndian.Uint32(p[8:])),
		typ:     binary.LittleEndian.Uint16(p[12:]),
		active:  p[14]&flagActive != 0,
		removed: p[14]&flagRemoved != 0,
	}
}

func (bs *blocks) setHeader(b uint32, h header) { putHeader(bs.at(b), h) }

// key returns the block's key; the string shares the chunk's memory.
func (bs *blocks) key(b uint32) string {
	p := bs.at(b)
	n := int(p[15])
	return unsafe.String(&p[headerLen], n)
}

// id returns the block's record id; the string shares the chunk's memory.
func (bs *blocks) id(b uint32) string {
	p := bs.at(b)
	k, n := int(p[15]), int(binary.LittleEndian.Uint16(p[16:]))
	return unsafe.String(&p[headerLen+k], n)
}

// maxLine bounds one line of a directory file.
const maxLine = 64 << 10

// A LoadError lists the lines of a directory file that were skipped. The
// directory still holds every other line.
type LoadError struct {
	// Skipped is the number of lines skipped.
	Skipped int
	// Lines holds the first ten problems, each starting with its line
	// number.
	Lines []string
}

// Error returns "party: directory: N lines skipped: line 3: …; line 9: …".
func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString("party: directory: ")
	b.WriteString(strconv.Itoa(e.Skipped))
	if e.Skipped == 1 {
		b.WriteString(" line skipped: ")
	} else {
		b.WriteString(" lines skipped: ")
	}
	b.WriteString(strings.Join(e.Lines, "; "))
	if e.Skipped > len(e.Lines) {
		b.WriteString("; …")
	}
	return b.String()
}

// jsonEntry is one line of a directory file.
type jsonEntry struct {
	Address string `json:"address"`
	Record  string `json:"record"`
	Active  *bool  `json:"active"`
	Account string `json:"account"`
	Owner   string `json:"owner"`
}

// LoadDirectory reads a directory in JSON Lines form, one entry per line,
// into a new [MemDirectory] with the default normalization rules:
//
//	{"address": "anna@contoso.example", "record": "contact:c-1", "active": true, "account": "account:contoso"}
//	{"address": "@contoso.example", "record": "account:contoso"}
//
// "record", "account" and "owner" are written "type:id" (see
// [correlate.ParseRecord]); "active" defaults to true; "account" and
// "owner" are optional; other fields are ignored. Blank lines and lines
// starting with "#" are skipped.
//
// Like [correlate.ParseMessage], it keeps what it can read: a line that is
// not valid JSON, lacks a record or holds a bad address is skipped and
// reported in a *[LoadError], and the directory holds every other line. A
// read error ends loading and is returned wrapped.
func LoadDirectory(r io.Reader) (*MemDirectory, error) {
	d := NewMemDirectory(nil)
	_, err := d.Load(r)
	return d, err
}

// Load adds the entries of a JSON Lines file (see [LoadDirectory]) to d and
// returns how many lines it added.
func (d *MemDirectory) Load(r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, maxLine)
	var lerr LoadError
	skip := func(line int, msg string) {
		lerr.Skipped++
		if len(lerr.Lines) < 10 {
			lerr.Lines = append(lerr.Lines, "line "+strconv.Itoa(line)+": "+msg)
		}
	}
	added := 0
	for line := 1; ; line++ {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			skip(line, "longer than "+strconv.Itoa(maxLine)+" bytes")
			if err == io.EOF {
				break
			}
			if err != nil {
				return added, fmt.Errorf("party: directory: read line %d: %w", line, err)
			}
			continue
		}
		if err != nil && err != io.EOF {
			return added, fmt.Errorf("party: directory: read line %d: %w", line, err)
		}
		if msg := d.loadLine(b); msg != "" {
			if msg != "-" {
				skip(line, msg)
			}
		} else {
			added++
		}
		if err == io.EOF {
			break
		}
	}
	if lerr.Skipped > 0 {
		return added, &lerr
	}
	return added, nil
}

// loadLine adds one line; it returns "" when it added an entry, "-" for a
// blank or comment line, else what is wrong.
func (d *MemDirectory) loadLine(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == '#' {
		return "-"
	}
	var je jsonEntry
	if err := json.Unmarshal(b, &je); err != nil {
		return "not a JSON object: " + clip(err.Error(), 120)
	}
	if strings.TrimSpace(je.Record) == "" {
		return "no record"
	}
	e := Entry{Address: je.Address, Active: je.Active == nil || *je.Active}
	var err error
	if e.Record, err = correlate.ParseRecord(je.Record); err != nil {
		return "record: " + clip(err.Error(), 120)
	}
	if e.Account, err = correlate.ParseRecord(je.Account); err != nil {
		return "account: " + clip(err.Error(), 120)
	}
	if e.Owner, err = correlate.ParseRecord(je.Owner); err != nil {
		return "owner: " + clip(err.Error(), 120)
	}
	if err := d.Add(e); err != nil {
		return strings.TrimPrefix(err.Error(), "party: ")
	}
	return ""
}
