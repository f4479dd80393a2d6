package sqlstore

import "database/sql"

// SetAfterChunk makes PutBatch call f inside its transaction after each
// chunk has been written, with the number of emails written so far: the
// crash tests cancel or kill a batch there, deterministically mid-way.
func SetAfterChunk(s *Store, f func(done int)) { s.afterChunk = f }

// DB returns the Store's database handle, for tests that inspect the
// connection settings.
func DB(s *Store) *sql.DB { return s.db }
