package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
	"github.com/mailcorrelate/mailcorrelate/store/sqlstore"
	"github.com/mailcorrelate/mailcorrelate/store/storetest"
)

func TestContractSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) correlate.Store { return openSQLite(t, nil) })
	storetest.RunStore(t, func(t *testing.T) store.Store { return openSQLite(t, nil) })
}

func TestContractSQLiteMemory(t *testing.T) {
	open := func(t *testing.T) *sqlstore.Store {
		s, err := sqlstore.Open(context.Background(), "sqlite::memory:", nil)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	storetest.Run(t, func(t *testing.T) correlate.Store { return open(t) })
	storetest.RunStore(t, func(t *testing.T) store.Store { return open(t) })
}

func TestContractPostgres(t *testing.T) {
	pgURL(t)
	storetest.Run(t, func(t *testing.T) correlate.Store { return openPG(t, nil) })
	storetest.RunStore(t, func(t *testing.T) store.Store { return openPG(t, nil) })
}
