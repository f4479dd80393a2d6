// Package bench holds the system benchmarks of mailcorrelate: the default
// engine, as mailcorrelate.New builds it, against a memstore of up to ten
// million tracked emails. It has no code of its own; everything is in its
// _test.go files. See BENCHMARKS.md at the repository root for the command,
// the figures and the machine they were measured on.
package bench
