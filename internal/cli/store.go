package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/internal/ledger"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
)

// OpenStore opens the store a -store URL names: "memory" (or "") for an
// empty store in memory, "sqlite:PATH" for a SQLite file, "postgres://…" or
// "postgresql://…" for PostgreSQL. The function it returns closes the
// store. A store that cannot be reached comes with an error wrapping
// store.ErrUnavailable; an unknown URL's error names it without its
// password (see [StoreName]).
func OpenStore(ctx context.Context, u string) (store.Store, func() error, error) {
	switch {
	case u == "" || u == "memory":
		return memstore.New(), func() error { return nil }, nil
	case strings.HasPrefix(u, "sqlite:"), strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		s, err := sqlstore.Open(ctx, u, nil)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}
	return nil, nil, fmt.Errorf("%q: want memory, sqlite:PATH or postgres://…", StoreName(u))
}

// StoreName returns a -store URL without its password (in the user part or
// a password parameter), for logs and messages.
func StoreName(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable store URL)"
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Set(k, "xxxxx")
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted()
}

// ExportLedger writes the ledger of s — every tracked email's message_id,
// regarding and method, as JSON Lines sorted by message_id
// (internal/ledger) — to the file name, or to stdout when name is "-", and
// returns how many lines it wrote.
func ExportLedger(ctx context.Context, s ledger.Scanner, name string, stdout io.Writer) (int, error) {
	if name == "-" {
		return ledger.Export(ctx, s, stdout)
	}
	f, err := os.Create(name)
	if err != nil {
		return 0, err
	}
	n, err := ledger.Export(ctx, s, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}
