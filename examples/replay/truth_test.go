package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// truthRun runs the command with args and returns its exit code, stdout
// and stderr.
func truthRun(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestTruthHeaders evaluates the embedded sample against its own headers
// under the Email Router's chain and holds what smart matching reaches
// there: every record right, and more found than Dynamics mode or the plain
// subject rule find.
func TestTruthHeaders(t *testing.T) {
	code, out, stderr := truthRun("-truth", "headers", "-preset", "emailrouter")
	require.Equal(t, 0, code, stderr)
	t.Log(out)
	assert.Contains(t, out, "labels from the headers: 55 threads")
	assert.Contains(t, out, "134 messages, 55 seeds, 79 scored (79 about a record); chain token,smart, header strategies off")
	assert.Contains(t, out, "  improved  precision 100.00% (70/70)  recall  88.61% (70/79)")
	assert.Contains(t, out, "  dynamics  precision 100.00% (4/4)  recall   5.06% (4/79)")
	assert.Contains(t, out, "  plain     precision 100.00% (69/69)  recall  87.34% (69/79)")
	assert.Contains(t, out, "    PlainSubjectRule  precision", "per method, the plain rule named as such")
	assert.Contains(t, out, "improved: why 9 messages were missed", "without -q the misses are explained")
}

// TestTruthLabels evaluates the embedded sample against its labels: the
// folder rules come with them (the labels follow the rules).
func TestTruthLabels(t *testing.T) {
	code, out, stderr := truthRun("-truth", "labels", "-strategies", "folder,token,smart", "-q")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "labels from sample:labels.jsonl, seeds from sample:seed.jsonl")
	assert.Contains(t, out, "chain folder,token,smart")
	assert.Contains(t, out, "  improved  precision 100.00% (63/63)  recall  95.45% (63/66)")
	assert.NotContains(t, out, "why", "-q: the summary only")
}

func TestTruthFlags(t *testing.T) {
	code, _, stderr := truthRun("-truth", "bogus")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `-truth "bogus": want headers or labels`)

	code, _, stderr = truthRun("-truth", "labels", "testdata/golden.mbox")
	assert.Equal(t, 1, code, "a mailbox of one's own needs -labels")
	assert.Contains(t, stderr, "-truth labels needs -labels")

	code, _, stderr = truthRun("-truth", "headers", "testdata/does-not-exist")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no readable input")

	code, out, stderr := truthRun("-truth", "headers", "-q", "-mailbox", "support@fabrikam.example", "testdata/golden.mbox")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "5 messages", "a mailbox file of one's own")
}
