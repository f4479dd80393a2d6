package subject_test

import (
	"encoding/csv"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlatetest"
	"github.com/mailcorrelate/mailcorrelate/subject"
)

// openCorpus opens a corpus file or skips the test when the corpora are absent.
func openCorpus(t *testing.T, rel string) *os.File {
	t.Helper()
	f, err := os.Open(correlatetest.Path(t, rel))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// agreement is the outcome of comparing replies with their thread roots.
type agreement struct {
	replies, agree int
	viaWas         int      // misses whose Info.Was names the root's subject
	misses         []string // "reply subject" <- "root subject"
}

func (a agreement) rate() float64 { return float64(a.agree) / float64(a.replies) }

// measureAgreement compares, for every message with a parent in the oracle,
// Key(subject) with the Key of the root its parent chain leads to. Messages
// whose parent is missing from the corpus ("ghost" parents) are roots in the
// oracle and are not counted as replies.
func measureAgreement(o *correlatetest.Oracle, subjectOf func(id, oracleSubject string) string, n *subject.Normalizer) agreement {
	var a agreement
	for _, th := range o.Threads {
		parent := map[string]string{}
		subj := map[string]string{}
		for _, m := range th.Messages {
			subj[m.MessageID] = subjectOf(m.MessageID, m.Subject)
			if m.Parent != nil {
				parent[m.MessageID] = *m.Parent
			}
		}
		for _, m := range th.Messages {
			if m.Parent == nil {
				continue
			}
			root := m.MessageID
			for hops := 0; hops < len(th.Messages); hops++ {
				p, ok := parent[root]
				if !ok {
					break
				}
				root = p
			}
			a.replies++
			got, want := subj[m.MessageID], subj[root]
			if n.Key(got) == n.Key(want) {
				a.agree++
			} else {
				if _, info := n.Base(got); info.Was != "" && n.Key(info.Was) == n.Key(want) {
					a.viaWas++
				}
				a.misses = append(a.misses, strings.Join([]string{got, want}, "\" <- root \""))
			}
		}
	}
	return a
}

func logAgreement(t *testing.T, name string, a agreement, show int) {
	t.Helper()
	t.Logf("%s: %d of %d replies (%.1f%%) have their thread root's base subject", name, a.agree, a.replies, 100*a.rate())
	if a.viaWas > 0 {
		t.Logf("  %d more name the root's subject in a removed \"(was: …)\" (Info.Was)", a.viaWas)
	}
	// Distinct disagreements, most frequent first.
	count := map[string]int{}
	var order []string
	for _, m := range a.misses {
		if count[m] == 0 {
			order = append(order, m)
		}
		count[m]++
	}
	slices.SortStableFunc(order, func(x, y string) int { return count[y] - count[x] })
	for i, m := range order {
		if i == show {
			t.Logf("  … and %d more distinct", len(order)-show)
			break
		}
		t.Logf("  differs (%dx): \"%s\"", count[m], m)
	}
}

// readUSRPIndex reads index.tsv (Python csv dialect, tab-separated) into a
// map from Message-ID without angle brackets to decoded subject.
func readUSRPIndex(t *testing.T) map[string]string {
	t.Helper()
	r := csv.NewReader(openCorpus(t, "usrp-users/index.tsv"))
	r.Comma = '\t'
	head, err := r.Read()
	require.NoError(t, err)
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	require.Contains(t, col, "message_id")
	require.Contains(t, col, "subject")
	subjects := map[string]string{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		id := strings.Trim(strings.TrimSpace(rec[col["message_id"]]), "<>")
		if _, dup := subjects[id]; !dup {
			subjects[id] = rec[col["subject"]]
		}
	}
	return subjects
}

// TestCorpusUSRPUsers checks that replies on the USRP-users list (localized
// prefixes 回复/答复/RES/R/RV/Ynt, list tags between prefixes, GBK mojibake)
// normalize to their thread root's subject.
func TestCorpusUSRPUsers(t *testing.T) {
	subjects := readUSRPIndex(t)
	o := correlatetest.ReadOracle(t, "usrp-users/oracle-notmuch-0.37.threads.json")
	lookup := func(id, fallback string) string {
		if s, ok := subjects[id]; ok {
			return s
		}
		return fallback
	}

	ext := measureAgreement(o, lookup, subject.New(nil))
	logAgreement(t, "usrp-users Extended", ext, 15)
	rfc := measureAgreement(o, lookup, subject.New(&subject.Options{Mode: subject.RFC5256}))
	logAgreement(t, "usrp-users RFC5256", rfc, 0)

	// Measured: see the figures in the log; the floor leaves a small margin.
	require.Greater(t, ext.replies, 250, "the oracle should have about 290 replies")
	assert.GreaterOrEqual(t, ext.rate(), usrpFloor, "Extended agreement regressed")
	assert.Greater(t, ext.agree, rfc.agree, "Extended mode should beat RFC 5256 on localized prefixes")
}

// TestCorpusSpamAssassinHam checks the same property on 2002 mailing-list
// mail: Re[n]: counters, stacked prefixes, list tags, "(was …)" and
// non-reply "Word:" subjects.
func TestCorpusSpamAssassinHam(t *testing.T) {
	o := correlatetest.ReadOracle(t, "spamassassin-ham/oracle-notmuch-0.37/ham.threads.json")
	same := func(_, s string) string { return s }

	ext := measureAgreement(o, same, subject.New(nil))
	logAgreement(t, "spamassassin-ham Extended", ext, 25)
	rfc := measureAgreement(o, same, subject.New(&subject.Options{Mode: subject.RFC5256}))
	logAgreement(t, "spamassassin-ham RFC5256", rfc, 0)

	require.Greater(t, ext.replies, 800, "the oracle should have about 940 replies")
	assert.GreaterOrEqual(t, ext.rate(), hamFloor, "Extended agreement regressed")
	assert.GreaterOrEqual(t, ext.agree, rfc.agree, "Extended mode should not lose to RFC 5256")
}

// Agreement floors: the measured rates minus a small margin.
// Measured with notmuch 0.37's threads: usrp-users 289/294 (98.3%),
// spamassassin-ham 785/888 (88.4%). Every difference in the logs is a reply
// whose author changed the subject (thread hijacks, "New (was: Old)").
const (
	usrpFloor = 0.975
	hamFloor  = 0.875
)
