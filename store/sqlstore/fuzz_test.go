package sqlstore_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// FuzzRoundTrip stores tracked emails whose every string comes from the
// fuzzer (as every string of a tracked email comes from a stranger's mail)
// in one SQLite store, and checks that each reads back byte for byte, is
// found under its key, and that its Message-ID is matched exactly. Set
// MAILCORRELATE_TEST_POSTGRES and FUZZ_POSTGRES=1 to fuzz PostgreSQL
// instead.
func FuzzRoundTrip(f *testing.F) {
	f.Add("a1@crm.example", "Re: 回复: printer", "incident", "CAS-01042", "anna@contoso.example\nsupport@fabrikam.example", "msgid", "a1@crm.example", []byte{1, 2, 3}, int64(1772355600123456789))
	f.Add("", "", "", "", "", "", "", []byte(nil), int64(0))
	f.Add("x\x00y", "caf\xe9", "\xff", "'; --", "\x00", "folder", "mbx\x00F1", []byte{0}, int64(-1))
	var store *sqlstore.Store
	if envTrue("FUZZ_POSTGRES") {
		store = openPG(f, nil)
	} else {
		var err error
		store, err = sqlstore.Open(context.Background(), "sqlite::memory:", nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { store.Close() })
	}
	// Message-IDs get a suffix unique to this process and call: fuzzing
	// runs several processes, which share a PostgreSQL schema.
	nonce := strconv.FormatUint(rand.Uint64(), 36)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, msgID, subject, recType, recID, parts, kind, value string, ci []byte, ns int64) {
		ctx := context.Background()
		// Message-IDs are unique in a store; make this one fresh unless it
		// is empty.
		if msgID != "" {
			msgID += "#" + nonce + "." + strconv.FormatInt(n.Add(1), 10)
		}
		in := correlate.Tracked{
			MessageID:         msgID,
			Record:            correlate.Record{Type: recType, ID: recID},
			Token:             value,
			ConversationIndex: ci,
			Subject:           subject,
			Mailbox:           kind,
			FolderID:          value,
			FolderPath:        parts,
			Time:              time.Unix(0, ns),
		}
		if parts != "" {
			in.Participants = strings.Split(parts, "\n")
		}
		k := correlate.Key{Kind: kind, Value: value}
		got, err := store.Put(ctx, in, []correlate.Key{k, k})
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
		back, err := store.Get(ctx, got.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		in.ID = got.ID
		if back.Time.UnixMicro() != in.Time.UnixMicro() {
			t.Fatalf("Time: got %v, want %v to the microsecond", back.Time, in.Time)
		}
		if back.MessageID != in.MessageID || back.Record != in.Record || back.Token != in.Token ||
			string(back.ConversationIndex) != string(in.ConversationIndex) || back.Subject != in.Subject ||
			back.Mailbox != in.Mailbox || back.FolderID != in.FolderID || back.FolderPath != in.FolderPath ||
			strings.Join(back.Participants, "\n") != strings.Join(in.Participants, "\n") || len(back.Participants) != len(in.Participants) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, in)
		}
		ts, err := store.Lookup(ctx, k, correlate.Query{Limit: -1})
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		found := false
		for _, tr := range ts {
			found = found || tr.ID == got.ID
		}
		if !found {
			t.Fatalf("Lookup(%q) does not find email %d", k, got.ID)
		}
		if msgID != "" {
			_, err := store.Put(ctx, correlate.Tracked{MessageID: msgID}, nil)
			if !errors.Is(err, correlate.ErrExists) {
				t.Fatalf("second Put of %q: %v, want ErrExists", msgID, err)
			}
		}
	})
}
