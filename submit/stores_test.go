package submit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"

	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
	"github.com/mailcorrelate/mailcorrelate/submit"
)

// sqlStores returns openers of the SQL stores to run the relay on: a SQLite
// file, and PostgreSQL when MAILCORRELATE_TEST_POSTGRES names a server (in
// CI it must). Each opener returns a new connection to the same database,
// as a second relay process would have.
func sqlStores(t *testing.T) map[string]func(t *testing.T) store.Store {
	t.Helper()
	dir := t.TempDir()
	var b [6]byte
	rand.Read(b[:])
	schema := "mcsubmit_" + hex.EncodeToString(b[:])
	open := func(dsn string, o *sqlstore.Options) func(t *testing.T) store.Store {
		return func(t *testing.T) store.Store {
			s, err := sqlstore.Open(context.Background(), dsn, o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	}
	out := map[string]func(t *testing.T) store.Store{
		"sqlite": open("sqlite:"+filepath.Join(dir, "relay.db"), nil),
	}
	if url := os.Getenv("MAILCORRELATE_TEST_POSTGRES"); url != "" {
		out["postgres"] = open(url, &sqlstore.Options{Schema: schema})
		t.Cleanup(func() { dropSchema(t, url, schema) })
	} else if os.Getenv("CI") == "true" {
		t.Fatal("MAILCORRELATE_TEST_POSTGRES is not set but CI=true: the relay must run on PostgreSQL in CI")
	} else {
		t.Log("no PostgreSQL server (MAILCORRELATE_TEST_POSTGRES): SQLite only")
	}
	return out
}

// TestRelayOnSQLStores runs the relay on SQLite and PostgreSQL, as two
// relays sharing one database (the deployment PostgreSQL is for): many
// clients at once are tracked once each; a refusal leaves nothing; and the
// start of the second relay rolls back none of the first one's messages
// under way.
func TestRelayOnSQLStores(t *testing.T) {
	for name, open := range sqlStores(t) {
		t.Run(name, func(t *testing.T) {
			a := newHarness(t, open(t), func(o *submit.Options) { o.Instance = "a" })

			// Clients at once.
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := a.dial("alice", "alice-pw")
					for j := range 3 {
						msg := strings.Replace(caseMail, "<outlook-1@", fmt.Sprintf("<%s-%d-%d@", name, i, j), 1)
						if err := send(c, "alice@fabrikam.example", []string{"jane@contoso.example"}, msg); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			if n, p := len(a.tracked()), len(a.pending()); n != 12 || p != 0 {
				t.Fatalf("%d tracked, %d pending; want 12 and 0", n, p)
			}

			// A refusal rolls back.
			a.up.mu.Lock()
			a.up.refuseData = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "no"}
			a.up.mu.Unlock()
			if err := send(a.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"j@x.example"}, caseMail); code(err) != 550 {
				t.Fatalf("refused message: %v", err)
			}
			if n, p := len(a.tracked()), len(a.pending()); n != 12 || p != 0 {
				t.Fatalf("after a refusal: %d tracked, %d pending; want 12 and 0", n, p)
			}
			a.up.mu.Lock()
			a.up.refuseData = nil
			arrived, release := make(chan struct{}), make(chan struct{})
			a.up.onData = func() { close(arrived); <-release }
			a.up.mu.Unlock()

			// A message of relay a under way while relay b starts.
			sent := make(chan error, 1)
			go func() {
				msg := strings.Replace(caseMail, "<outlook-1@", "<"+name+"-late@", 1)
				sent <- send(a.dial("alice", "alice-pw"), "alice@fabrikam.example", []string{"j@x.example"}, msg)
			}()
			<-arrived
			b := newHarness(t, open(t), func(o *submit.Options) { o.Instance = "b" })
			if err := send(b.dial("bob", "bob-pw"), "bob@fabrikam.example", []string{"j@x.example"},
				strings.Replace(caseMail, "<outlook-1@", "<"+name+"-b@", 1)); err != nil {
				t.Fatal(err)
			}
			a.up.mu.Lock()
			a.up.onData = nil
			a.up.mu.Unlock()
			close(release)
			if err := <-sent; err != nil {
				t.Fatalf("relay a's message under way when relay b started: %v", err)
			}
			if n, p := len(a.tracked()), len(a.pending()); n != 14 || p != 0 {
				t.Fatalf("%d tracked, %d pending; want 14 (12, a's late one, b's) and 0", n, p)
			}
		})
	}
}

// dropSchema drops a PostgreSQL schema and everything in it.
func dropSchema(t testing.TB, url, schema string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Errorf("dropping schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("dropping schema %s: %v", schema, err)
	}
}
