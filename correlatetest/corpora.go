// Package correlatetest holds the test helpers the module's packages share:
// access to the real mail of the shared corpora, and golden files of
// correlation decisions.
//
// # Corpora
//
// The corpora are real mail with expected answers, kept next to the
// repository in ../shared/corpora (see its README.md); they are not part of
// the module, and a fresh clone — CI's included — has none. [Dir], [Path],
// [Files], [Messages] and [ReadOracle] find them from the test's working
// directory (the package directory, under go test) and skip the test with a
// message when they are absent. Setting MAILCORRELATE_CORPORA to a folder
// uses that folder instead and turns the skip into a failure: a run that
// names its corpora must not pass without them. [Find] looks without
// skipping, for fuzz seeds and benchmarks that fall back to generated mail.
//
// # Golden files
//
// [Golden] compares a test's output with a file under testdata and, when
// the test binary runs with -update, rewrites the file instead.
// [RenderDecisions] and [Summarize] turn decisions into deterministic text
// for it: every decision with its steps, or counts that pin the outcome of a
// whole corpus without copying any of its mail into the repository.
//
// The package imports correlate, so correlate's in-package tests cannot use
// it; its external tests (package correlate_test) can.
package correlatetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// EnvCorpora names the environment variable that, when set, is the corpora
// folder to use; the helpers then fail instead of skipping when it or a
// folder asked for is missing.
const EnvCorpora = "MAILCORRELATE_CORPORA"

// module is the path of the module whose go.mod marks the repository root.
const module = "github.com/mailcorrelate/mailcorrelate"

// Folders of the corpora that hold mail, relative to the corpora folder.
const (
	// Ham is SpamAssassin's ham: 1,249 messages of 2002 from many mail
	// programs, one file each.
	Ham = "spamassassin-ham/test/testdata/ham"
	// USRP is the usrp-users list: 374 messages, Outlook Thread-Index,
	// localized reply prefixes.
	USRP = "usrp-users/messages"
	// Notmuch holds notmuch's Maildir corpora (default, threading, broken,
	// duplicate, lkml), one folder each.
	Notmuch = "notmuch/test/corpora"
	// NotmuchDefault is notmuch's default corpus: 52 list messages in a
	// Maildir with nested folders.
	NotmuchDefault = "notmuch/test/corpora/default"
	// IMAPTest holds Dovecot imaptest's mboxes and scripts.
	IMAPTest = "imaptest/src/tests"
)

// Find returns the corpora folder, relative to the working directory when
// it can be, and whether it exists. It never skips or fails: tests use
// [Dir]. When EnvCorpora is set, Find returns its value.
func Find() (string, bool) {
	if env := os.Getenv(EnvCorpora); env != "" {
		return env, isDir(env)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for dir := wd; ; {
		if isRoot(dir) {
			abs := filepath.Join(filepath.Dir(dir), "shared", "corpora")
			if rel, err := filepath.Rel(wd, abs); err == nil {
				abs = rel
			}
			return abs, isDir(abs)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// isRoot reports whether dir holds the go.mod of this module.
func isRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			return fields[1] == module
		}
	}
	return false
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// absent skips tb, or fails it when EnvCorpora demands the corpora.
func absent(tb testing.TB, what string, err error) {
	tb.Helper()
	if env := os.Getenv(EnvCorpora); env != "" {
		tb.Fatalf("correlatetest: %s missing although %s=%s: %v", what, EnvCorpora, env, err)
	}
	tb.Skipf("correlatetest: %s not found: the shared corpora (../shared/corpora next to the repository) are not part of the module or of CI's clone: %v", what, err)
}

// Dir returns the corpora folder, skipping tb when it is absent.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, ok := Find()
	if !ok {
		absent(tb, "corpora folder "+dir, fs.ErrNotExist)
	}
	return dir
}

// Path returns the file or folder rel (slash-separated, relative to the
// corpora folder), skipping tb when it is absent.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(Dir(tb), filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		absent(tb, "corpus "+rel, err)
	}
	return p
}

// ReadFile returns the content of the corpus file rel, skipping tb when it
// is absent and failing it when it cannot be read.
func ReadFile(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(Path(tb, rel))
	if err != nil {
		tb.Fatalf("correlatetest: %v", err)
	}
	return b
}

// IsMail reports whether a file of a corpus mail folder, by its name, is a
// message: not a README, licence, oracle, index, expected output or hidden
// file.
func IsMail(name string) bool {
	switch {
	case strings.HasPrefix(name, "."),
		strings.HasSuffix(name, ".txt"), strings.HasSuffix(name, ".json"), strings.HasSuffix(name, ".tsv"),
		strings.HasPrefix(name, "COPYING"), strings.HasPrefix(name, "LICENSE"), strings.HasSuffix(name, "-output"):
		return false
	}
	return true
}

// Files returns every message file (see [IsMail]) under the corpus folders
// dirs, each folder in lexical order, as paths a test can open. It skips tb
// when a folder is absent.
func Files(tb testing.TB, dirs ...string) []string {
	tb.Helper()
	var files []string
	for _, d := range dirs {
		err := filepath.WalkDir(Path(tb, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !IsMail(e.Name()) {
				return err
			}
			files = append(files, p)
			return nil
		})
		if err != nil {
			tb.Fatalf("correlatetest: %v", err)
		}
	}
	return files
}

// A Mail is one message file of the corpora, read and parsed.
type Mail struct {
	// File is the path relative to the corpora folder, slash-separated
	// ("usrp-users/messages/0001.eml").
	File string
	// Raw is the file's content.
	Raw []byte
	// Msg is what correlate.ParseMessage returned: nil when nothing could
	// be read, else the message even when Err reports a problem.
	Msg *correlate.Message
	// Err is the error correlate.ParseMessage returned.
	Err error
}

// Messages reads and parses, with opts, every message file under the corpus
// folders dirs, in the order of [Files]. It skips tb when a folder is
// absent. A message that parses with problems is kept, its Err set; the
// caller decides what a problem means.
func Messages(tb testing.TB, opts *correlate.ParseOptions, dirs ...string) []Mail {
	tb.Helper()
	root := Dir(tb)
	files := Files(tb, dirs...)
	out := make([]Mail, 0, len(files))
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			tb.Fatalf("correlatetest: %v", err)
		}
		m, err := correlate.ParseMessage(bytes.NewReader(raw), opts)
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			rel = p
		}
		out = append(out, Mail{File: filepath.ToSlash(rel), Raw: raw, Msg: m, Err: err})
	}
	return out
}

// An Oracle is another program's threading of a corpus: the JSON files
// written by notmuch 0.37 (notmuch/oracle-notmuch-0.37/*.threads.json,
// usrp-users/oracle-notmuch-0.37.threads.json,
// spamassassin-ham/oracle-notmuch-0.37/ham.threads.json). It threads by
// header only and is not ground truth (see the corpora's README.md).
type Oracle struct {
	Threads []OracleThread `json:"threads"`
}

// An OracleThread is one thread of an [Oracle].
type OracleThread struct {
	Subject string `json:"subject"`
	// Messages are oldest first.
	Messages []OracleMessage `json:"messages"`
}

// An OracleMessage is one message of an [OracleThread].
type OracleMessage struct {
	MessageID string `json:"message_id"`
	// Parent is the parent's Message-ID; nil for a thread's root.
	Parent  *string `json:"parent_message_id"`
	Subject string  `json:"subject"`
	// Files are the message's files, relative to its corpus folder.
	Files []string `json:"files"`
}

// ReadOracle reads the oracle file rel, skipping tb when it is absent and
// failing it when it is not an oracle with at least one thread.
func ReadOracle(tb testing.TB, rel string) *Oracle {
	tb.Helper()
	var o Oracle
	if err := json.Unmarshal(ReadFile(tb, rel), &o); err != nil {
		tb.Fatalf("correlatetest: oracle %s: %v", rel, err)
	}
	if len(o.Threads) == 0 {
		tb.Fatalf("correlatetest: oracle %s has no threads", rel)
	}
	return &o
}
