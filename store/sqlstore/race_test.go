//go:build race

package sqlstore_test

// raceEnabled reports a -race build: SQLite, a C library translated to Go,
// runs about a hundred times slower under the race detector, so the
// heaviest SQLite tests shrink their input.
const raceEnabled = true
