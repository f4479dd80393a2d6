// Package check holds the checks of a store.Store's input that every store
// of this module makes alike, before it touches its data.
package check

import (
	"fmt"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// Name returns an error for the name of a State or a Lease (what says
// which) that is not 1 to store.MaxNameLen bytes long.
func Name(what, name string) error {
	if name == "" || len(name) > store.MaxNameLen {
		return fmt.Errorf("%s name of %d bytes: want 1 to %d", what, len(name), store.MaxNameLen)
	}
	return nil
}

// Batch returns an error for a Relink or a Move of b that names no email,
// a Move that would change a Message-ID key, or a State of b whose name
// Name refuses. The Puts are the store's to check.
func Batch(b *store.Batch) error {
	for i, rl := range b.Relinks {
		if rl.ID == 0 && rl.MessageID == "" {
			return fmt.Errorf("relink %d names no email (no ID, no Message-ID)", i)
		}
	}
	for i, mv := range b.Moves {
		if mv.ID == 0 && mv.MessageID == "" {
			return fmt.Errorf("move %d names no email (no ID, no Message-ID)", i)
		}
		for _, ks := range [2][]correlate.Key{mv.Drop, mv.Add} {
			for _, k := range ks {
				if k.Kind == correlate.KindMessageID {
					return fmt.Errorf("move %d: a Move does not change %s keys (%q)", i, correlate.KindMessageID, k.Value)
				}
			}
		}
	}
	for _, st := range b.States {
		if err := Name("state", st.Name); err != nil {
			return err
		}
	}
	return nil
}
