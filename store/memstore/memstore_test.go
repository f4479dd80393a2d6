package memstore_test

import (
	"testing"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
	"github.com/mailcorrelate/mailcorrelate/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) correlate.Store { return memstore.New() })
}

func TestZeroValue(t *testing.T) {
	storetest.Run(t, func(t *testing.T) correlate.Store { return new(memstore.Store) })
}
