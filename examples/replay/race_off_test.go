//go:build !race

package main

// raceBuild: the tests run under the race detector, which makes the
// replay (and the pure-Go SQLite beneath it) about ten times slower.
const raceBuild = false
