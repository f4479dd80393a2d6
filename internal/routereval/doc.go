// Package routereval measures correlation under Email Router conditions —
// no In-Reply-To, References or Thread-Index, only tracking tokens and smart
// matching — on any mailbox, with labels taken from the mailbox's own
// headers.
//
// ByHeaders threads the messages by Message-ID, In-Reply-To and References
// (package header/thread) and files the earliest message of each thread
// under record "thread:N"; Evaluate then replays the mailbox without the
// header strategies, three times: smart matching in Improved mode, in
// Dynamics mode, and the plain rule ("file a reply under the record when
// its base subject names exactly one record among the filed emails",
// PlainRule) in its place. The Report gives precision and recall overall
// and per method for each, and the messages each got wrong or missed.
//
// ByLabels takes the labels from elsewhere (the replay command's -seed and
// -labels files, a generator's truth) instead.
//
// The replay command prints it:
//
//	go run ./examples/replay -truth headers [-preset emailrouter | -strategies token,smart] PATH
//	go run ./examples/replay -truth labels -seed seed.jsonl -labels labels.jsonl PATH
//
// The package's tests hold smart matching's accuracy targets on the shared
// corpora and the generated samples (TestTargets) and log how each
// threshold moves them (TestSweep, with -sweep all).
package routereval
