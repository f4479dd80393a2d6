package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// Benchmarks run on both databases: SQLite in a temporary file, PostgreSQL
// on the server named by MAILCORRELATE_TEST_POSTGRES (skipped without one).
// The lookup benchmarks read a store of benchEmails() tracked emails (default
// 200,000; set MAILCORRELATE_BENCH_EMAILS), built once per binary.

const benchBatch = 1000 // emails per PutBatch

// benchEntry returns the n-th benchmark email: realistic sizes, and the six
// keys a default chain files (Message-ID, token, conversation root, subject
// hash shared by a thread of 10, customer address shared by 100, and one of
// 20 folders).
func benchEntry(prefix string, n int) sqlstore.Entry {
	id := fmt.Sprintf("%s%08d.A1B2C3D4@mail.contoso.example", prefix, n)
	th := n / 10
	tr := correlate.Tracked{
		MessageID:         id,
		Record:            correlate.Record{Type: "incident", ID: fmt.Sprintf("CAS-%07d", th)},
		Token:             fmt.Sprintf("CRM:%08d", n),
		ConversationIndex: []byte(fmt.Sprintf("\x01\xd7\x4e%019d%05d", th, n%10)),
		Subject:           fmt.Sprintf("Re: Printer on floor %d offline since the update [CRM:%08d]", th%40, n),
		Participants:      []string{fmt.Sprintf("customer%d@contoso.example", n/100), "support@fabrikam.example", "lead@fabrikam.example"},
		Mailbox:           "support@fabrikam.example",
		FolderID:          fmt.Sprintf("AAMkAGI2TG93AAA%02d", n%20),
		FolderPath:        "Inbox",
		Direction:         correlate.Incoming,
		Time:              t0.Add(time.Duration(n) * time.Second),
		Method:            correlate.InReplyTo,
	}
	return sqlstore.Entry{Tracked: tr, Keys: []correlate.Key{
		correlate.MessageIDKey(id),
		{Kind: "token", Value: tr.Token},
		{Kind: "hdr.conv", Value: fmt.Sprintf("R%08d", th)},
		{Kind: "sm.subj", Value: fmt.Sprintf("S%08d", th)},
		{Kind: "sm.addr", Value: tr.Participants[0]},
		{Kind: "folder", Value: "support@fabrikam.example\x00" + tr.FolderID},
	}}
}

func benchEmails() int {
	if n, err := strconv.Atoi(os.Getenv("MAILCORRELATE_BENCH_EMAILS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// benchStores opens a fresh store per database and runs f on each.
func benchBackends(b *testing.B, f func(b *testing.B, s *sqlstore.Store)) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		f(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		f(b, openPG(b, nil))
	})
}

// BenchmarkPutBatch writes batches of 1,000 new emails with six keys each
// into a growing store.
func BenchmarkPutBatch(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		b.ReportAllocs()
		n := 0
		var cpu time.Duration
		batch := make([]sqlstore.Entry, benchBatch)
		for b.Loop() {
			b.StopTimer() // making the rows is not the store's work
			for i := range batch {
				batch[i] = benchEntry("b", n)
				n++
			}
			c0 := benchutil.CPUTime()
			b.StartTimer()
			if _, err := s.PutBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			cpu += benchutil.CPUTime() - c0
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "emails/s")
		reportCPU(b, cpu, n)
	})
}

// BenchmarkPut tracks one email at a time, as a live sync does.
func BenchmarkPut(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		b.ReportAllocs()
		n := 0
		dbCPU := serverCPU(b, s)
		c0, d0 := benchutil.CPUTime(), dbCPU()
		for b.Loop() {
			e := benchEntry("p", n)
			n++
			if _, err := s.Put(ctx, e.Tracked, e.Keys); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "emails/s")
		benchutil.ReportCPU(b, c0, n)
		if d := dbCPU(); d > 0 {
			b.ReportMetric(float64((d-d0).Nanoseconds())/float64(n), "db-cpu-ns/op")
		}
	})
}

// BenchmarkPGXBaseline writes the same rows into the same tables as
// BenchmarkPutBatch/postgres with bare pgx, no database/sql, no duplicate
// check: "copy" streams both tables with COPY, "batch" pipelines one INSERT
// per row (pgx.Batch). The ratio of PutBatch's emails/s to these is the
// cost of the store's layer and its ON CONFLICT handling.
func BenchmarkPGXBaseline(b *testing.B) {
	url := pgURL(b)
	ctx := context.Background()
	setup := func(b *testing.B) *pgx.Conn {
		schema := newSchema(b, url)
		s, err := sqlstore.Open(ctx, url, &sqlstore.Options{Schema: schema}) // creates the tables
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			b.Fatal(err)
		}
		cfg.RuntimeParams["search_path"] = schema
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close(ctx) })
		return conn
	}
	rows := func(n int) []sqlstore.Entry {
		batch := make([]sqlstore.Entry, benchBatch)
		for i := range batch {
			batch[i] = benchEntry("x", n+i)
		}
		return batch
	}
	emailRow := func(id int64, t *correlate.Tracked) []any {
		return []any{id, []byte(t.MessageID), []byte(t.Record.Type), []byte(t.Record.ID), []byte(t.Token), t.ConversationIndex,
			[]byte(t.Subject), encodeParts(t.Participants), []byte(t.Mailbox), []byte(t.FolderID), []byte(t.FolderPath),
			int16(t.Direction), t.Time.UnixMicro(), int32(t.Method), t.CorrelatedWith, t.Parent}
	}
	cols := []string{"id", "message_id", "record_type", "record_id", "token", "conversation_index", "subject", "participants",
		"mailbox", "folder_id", "folder_path", "direction", "at", "method", "correlated_with", "parent"}
	nextIDs := func(b *testing.B, tx pgx.Tx, n int) []int64 {
		rs, err := tx.Query(ctx, "SELECT nextval('mc_email_id_seq') FROM generate_series(1, $1)", n)
		if err != nil {
			b.Fatal(err)
		}
		ids, err := pgx.CollectRows(rs, pgx.RowTo[int64])
		if err != nil {
			b.Fatal(err)
		}
		return ids
	}

	b.Run("copy", func(b *testing.B) {
		conn := setup(b)
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			b.StopTimer()
			batch := rows(n)
			n += len(batch)
			b.StartTimer()
			tx, err := conn.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			ids := nextIDs(b, tx, len(batch))
			var er, kr [][]any
			for i := range batch {
				t := &batch[i].Tracked
				er = append(er, emailRow(ids[i], t))
				for _, k := range batch[i].Keys {
					kr = append(kr, []any{[]byte(k.Kind), []byte(k.Value), t.Time.UnixMicro(), ids[i]})
				}
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"mc_email"}, cols, pgx.CopyFromRows(er)); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"mc_key"}, []string{"kind", "value", "at", "email"}, pgx.CopyFromRows(kr)); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "emails/s")
	})
	b.Run("batch", func(b *testing.B) {
		conn := setup(b)
		b.ReportAllocs()
		n := 0
		insEmail := "INSERT INTO mc_email (id, message_id, record_type, record_id, token, conversation_index, subject, participants, " +
			"mailbox, folder_id, folder_path, direction, at, method, correlated_with, parent) " +
			"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
		insKey := "INSERT INTO mc_key (kind, value, at, email) VALUES ($1, $2, $3, $4)"
		for b.Loop() {
			b.StopTimer()
			batch := rows(n)
			n += len(batch)
			b.StartTimer()
			tx, err := conn.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			ids := nextIDs(b, tx, len(batch))
			var pb pgx.Batch
			for i := range batch {
				t := &batch[i].Tracked
				pb.Queue(insEmail, emailRow(ids[i], t)...)
				for _, k := range batch[i].Keys {
					pb.Queue(insKey, []byte(k.Kind), []byte(k.Value), t.Time.UnixMicro(), ids[i])
				}
			}
			if err := tx.SendBatch(ctx, &pb).Close(); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "emails/s")
	})
}

// encodeParts is the participants column encoding (a varint length before
// each address), written out for the bare-pgx baseline.
func encodeParts(ps []string) []byte {
	var b []byte
	for _, p := range ps {
		for n := uint64(len(p)); ; n >>= 7 {
			if n < 0x80 {
				b = append(b, byte(n))
				break
			}
			b = append(b, byte(n)|0x80)
		}
		b = append(b, p...)
	}
	return b
}

// reportCPU reports the process's CPU time per email ("cpu-µs/email"):
// for SQLite all of the work, for PostgreSQL the client's share. Unlike
// emails/s it hardly depends on what else the machine runs.
func reportCPU(b *testing.B, cpu time.Duration, emails int) {
	if cpu > 0 && emails > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(emails), "cpu-µs/email")
	}
}

// A filled store, built once per binary and database.
var (
	filledMu     sync.Mutex
	filledStores = map[string]*sqlstore.Store{}
)

func filled(b *testing.B, backend string) *sqlstore.Store {
	b.Helper()
	filledMu.Lock()
	defer filledMu.Unlock()
	if s, ok := filledStores[backend]; ok {
		return s
	}
	ctx := context.Background()
	var (
		s   *sqlstore.Store
		err error
	)
	switch backend {
	case "sqlite":
		dir, derr := os.MkdirTemp("", "sqlstore-bench")
		if derr != nil {
			b.Fatal(derr)
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		s, err = sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "bench.db"), nil)
	case "postgres":
		url := pgURL(b)
		schema := fmt.Sprintf("mcbench_%d", os.Getpid())
		cleanups = append(cleanups, func() {
			conn, err := pgx.Connect(ctx, url)
			if err == nil {
				conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
				conn.Close(ctx)
			}
		})
		s, err = sqlstore.Open(ctx, url, &sqlstore.Options{Schema: schema})
	}
	if err != nil {
		b.Fatal(err)
	}
	cleanups = append(cleanups, func() { s.Close() })
	n := benchEmails()
	start := time.Now()
	batch := make([]sqlstore.Entry, 0, 5000)
	for i := 0; i < n; i++ {
		batch = append(batch, benchEntry("f", i))
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := s.PutBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.Logf("%s: filled with %d emails in %v", backend, n, time.Since(start).Round(time.Millisecond))
	filledStores[backend] = s
	return s
}

// cleanups run after every test and benchmark of the binary (TestMain).
var cleanups []func()

// latencies records one duration per operation and reports percentiles.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	at := func(p float64) float64 { return float64(l[int(p*float64(len(l)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkLookup looks up one key among benchEmails() tracked emails:
// "msgid" a Message-ID (one email, Limit 1: the In-Reply-To strategy),
// "conv" a conversation root (the 10 emails of a thread, default limit).
// Keys are picked over the whole store, so most lookups miss the caches of
// a small machine.
func BenchmarkLookup(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			s := filled(b, backend)
			ctx := context.Background()
			n := benchEmails()
			for _, kind := range []string{"msgid", "conv"} {
				b.Run(kind, func(b *testing.B) {
					b.ReportAllocs()
					var lat latencies
					i := 0
					for b.Loop() {
						e := (i * 7919) % n
						i++
						k, q, want := correlate.MessageIDKey(fmt.Sprintf("f%08d.A1B2C3D4@mail.contoso.example", e)), correlate.Query{Limit: 1}, 1
						if kind == "conv" {
							k, q, want = correlate.Key{Kind: "hdr.conv", Value: fmt.Sprintf("R%08d", e/10)}, correlate.Query{}, min(10, n-e/10*10)
						}
						start := time.Now()
						ts, err := s.Lookup(ctx, k, q)
						lat = append(lat, time.Since(start))
						if err != nil || len(ts) != want {
							b.Fatalf("Lookup(%v) = %d emails, %v; want %d", k, len(ts), err, want)
						}
					}
					lat.report(b)
				})
			}
		})
	}
}

// BenchmarkNextSequence draws token numbers from one counter.
func BenchmarkNextSequence(b *testing.B) {
	benchBackends(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		b.ReportAllocs()
		dbCPU := serverCPU(b, s)
		c0, d0 := benchutil.CPUTime(), dbCPU()
		for b.Loop() {
			if _, err := s.NextSequence(ctx, "token"); err != nil {
				b.Fatal(err)
			}
		}
		benchutil.ReportCPU(b, c0, b.N)
		if d := dbCPU(); d > 0 {
			b.ReportMetric(float64((d-d0).Nanoseconds())/float64(b.N), "db-cpu-ns/op")
		}
	})
}
