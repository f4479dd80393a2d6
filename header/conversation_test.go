package header_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/header"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// outlookMsg is a message with a Thread-Index and Thread-Topic and no
// In-Reply-To or References (Outlook after the user edited the subject).
func outlookMsg(id, subject, topic string, index []byte) string {
	return fmt.Sprintf("Message-ID: <%s>\nSubject: %s\nThread-Topic: %s\nThread-Index: %s\n\n",
		id, subject, topic, base64.StdEncoding.EncodeToString(index))
}

func TestConversationIndex(t *testing.T) {
	t0 := time.Date(2021, 2, 17, 15, 34, 9, 0, time.UTC)
	g2 := testGUID
	g2[0] ^= 0x55
	root := classicIndex(t0, testGUID)
	reply := classicIndex(t0, testGUID, t0.Add(10*time.Minute))
	reply2 := classicIndex(t0, testGUID, t0.Add(10*time.Minute), t0.Add(20*time.Minute))
	branch := classicIndex(t0, testGUID, t0.Add(15*time.Minute), t0.Add(25*time.Minute))
	tests := []struct {
		name     string
		opts     *header.Options
		fixtures []tracked
		msg      string
		want     string
		conf     float64
		with     string
		parent   string
		topic    string // note expected on the Thread-Topic evidence
		why      string
	}{
		{
			name: "Parent",
			fixtures: []tracked{
				{outlookMsg("root@x.example", "X440 timing", "X440 timing", root), "incident:CAS-1"},
				{outlookMsg("reply@x.example", "RE: X440 timing", "X440 timing", reply), "incident:CAS-1"},
			},
			msg:  outlookMsg("reply2@x.example", "RE: X440 timing", "X440 timing", reply2),
			want: "incident:CAS-1", conf: correlate.High, with: "reply@x.example", parent: "reply@x.example",
			topic: "agrees",
			why:   "the index minus its last block is the tracked reply's index: the email it answers",
		},
		{
			name: "Root",
			fixtures: []tracked{
				{outlookMsg("root@x.example", "X440 timing", "X440 timing", root), "incident:CAS-1"},
				{outlookMsg("reply@x.example", "RE: X440 timing", "X440 timing", reply), "incident:CAS-1"},
			},
			msg:  outlookMsg("branch@x.example", "RE: X440 timing (new finding)", "X440 timing", branch),
			want: "incident:CAS-1", conf: correlate.Likely, with: "reply@x.example",
			topic: "agrees",
			why:   "its parent was never tracked, but the conversation was: the newest email of the same root, no parent",
		},
		{
			name: "NoRoot",
			opts: &header.Options{NoRoot: true},
			fixtures: []tracked{
				{outlookMsg("root@x.example", "X440 timing", "X440 timing", root), "incident:CAS-1"},
			},
			msg: outlookMsg("branch@x.example", "RE: X440 timing", "X440 timing", branch),
			why: "NoRoot matches only the exact parent",
		},
		{
			name: "OtherConversation",
			fixtures: []tracked{
				{outlookMsg("root@x.example", "X440 timing", "X440 timing", root), "incident:CAS-1"},
			},
			msg: outlookMsg("other@x.example", "RE: B210 drivers", "B210 drivers", classicIndex(t0, g2, t0.Add(time.Minute))),
			why: "same time, another GUID: another conversation",
		},
		{
			name: "TopicDiffers",
			fixtures: []tracked{
				{outlookMsg("root@x.example", "X440 timing", "X440 timing", root), "incident:CAS-1"},
			},
			msg:  outlookMsg("reply@x.example", "RE: lunch?", "lunch?", reply),
			want: "incident:CAS-1", conf: correlate.High, with: "root@x.example", parent: "root@x.example",
			topic: "differs",
			why:   "Thread-Topic is evidence, not a key: a changed topic is reported, the index still decides",
		},
		{
			name: "Forward",
			opts: &header.Options{SkipForwards: true},
			fixtures: []tracked{
				{outlookMsg("root@x.example", "X440 timing", "X440 timing", root), "incident:CAS-1"},
			},
			msg: outlookMsg("fw@x.example", "FW: X440 timing", "X440 timing", reply),
			why: "Outlook forwards append a block too; SkipForwards leaves them alone",
		},
		{
			name: "Malformed",
			fixtures: []tracked{
				{outlookMsg("root@x.example", "X440 timing", "X440 timing", root), "incident:CAS-1"},
			},
			msg: outlookMsg("bad@x.example", "RE: X440 timing", "X440 timing", reply[:25]),
			why: "a torn index is an abstention with evidence, even though its header is readable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memstore.New()
			c := header.NewConversationIndex(s, tt.opts)
			fileAll(t, s, c, tt.fixtures)
			got, err := c.Correlate(context.Background(), parse(t, tt.msg))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Record.String(), "Correlate = %v; %s", got, tt.why)
			if tt.want == "" {
				return
			}
			assert.Equal(t, correlate.ConversationIndex, got.Method)
			assert.Equal(t, tt.conf, got.Confidence, tt.why)
			assert.Equal(t, "conversation", got.Strategy)
			assert.Equal(t, tt.with, got.CorrelatedWith.MessageID, tt.why)
			if tt.parent == "" {
				assert.Nil(t, got.Parent, tt.why)
			} else if assert.NotNil(t, got.Parent) {
				assert.Equal(t, tt.parent, got.Parent.MessageID, tt.why)
			}
			assert.True(t, hasNote(got.Evidence, "Thread-Topic", tt.topic), "Evidence %v; %s", got.Evidence, tt.why)
		})
	}
}

func TestConversationIndexEdges(t *testing.T) {
	ctx := context.Background()
	c := header.NewConversationIndex(memstore.New(), nil)
	got, err := c.Correlate(ctx, parse(t, "Message-ID: <a@b.example>\n\n"))
	assert.NoError(t, err)
	assert.Equal(t, correlate.Match{}, got, "no Thread-Index, no opinion")

	got, err = c.Correlate(ctx, &correlate.Message{ThreadIndex: []byte{1, 2, 3}})
	assert.NoError(t, err)
	assert.False(t, got.Found())
	assert.True(t, hasNote(got.Evidence, "Thread-Index", "shorter than"), "a short index is reported: %v", got.Evidence)

	got, err = c.Correlate(ctx, nil)
	assert.NoError(t, err)
	assert.Equal(t, correlate.Match{}, got)

	boom := errors.New("timeout")
	idx := classicIndex(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), testGUID, time.Date(2021, 1, 1, 1, 0, 0, 0, time.UTC))
	_, err = header.NewConversationIndex(failing{boom}, nil).Correlate(ctx, &correlate.Message{ThreadIndex: idx})
	assert.ErrorIs(t, err, boom)
	assert.True(t, strings.HasPrefix(err.Error(), "header: lookup hdr.ci"), err.Error())

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Correlate(cctx, &correlate.Message{ThreadIndex: idx})
	assert.ErrorIs(t, err, context.Canceled)

	keys := c.Index(&correlate.Message{ThreadIndex: idx}, &correlate.Tracked{}, nil)
	require.Len(t, keys, 2)
	x, _ := header.ParseIndex(idx)
	assert.Equal(t, correlate.Key{Kind: header.KindConversation, Value: header.IndexKey(x)}, keys[0], "the whole index")
	assert.Equal(t, correlate.Key{Kind: header.KindConversationRoot, Value: header.IndexKey(x.Root())}, keys[1], "its root")
	assert.Nil(t, c.Index(&correlate.Message{ThreadIndex: idx[:25]}, &correlate.Tracked{}, nil), "a malformed index is not indexed")
	assert.Equal(t, "conversation", c.String())
}

// TestConversationRecordless checks that a conversation's newest email
// filed without a record does not hide an older one that has a record.
func TestConversationRecordless(t *testing.T) {
	t0 := time.Date(2021, 2, 17, 15, 34, 9, 0, time.UTC)
	s := memstore.New()
	c := header.NewConversationIndex(s, nil)
	fileAll(t, s, c, []tracked{
		{outlookMsg("root@x.example", "Topic", "Topic", classicIndex(t0, testGUID)) + "Date: Wed, 17 Feb 2021 15:34:09 +0000\n", "incident:CAS-1"},
	})
	fileAll(t, s, c, []tracked{
		{strings.Replace(outlookMsg("private@x.example", "RE: Topic", "Topic", classicIndex(t0, testGUID, t0.Add(time.Hour))), "\n\n", "\nDate: Wed, 17 Feb 2021 16:34:09 +0000\n\n", 1), ""},
	})
	got, err := c.Correlate(context.Background(), parse(t, outlookMsg("new@x.example", "RE: Topic", "Topic",
		classicIndex(t0, testGUID, t0.Add(2*time.Hour), t0.Add(3*time.Hour)))))
	require.NoError(t, err)
	assert.Equal(t, "incident:CAS-1", got.Record.String(), "the newest email with a record wins")
}

// TestChainAudit runs both strategies in a Chain in audit mode: the reply's
// In-Reply-To names the email a user moved to another case, its
// Thread-Index the conversation of the first case; the Decision takes
// In-Reply-To (earlier in precedence) and reports the other as a conflict.
func TestChainAudit(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2021, 2, 17, 15, 34, 9, 0, time.UTC)
	s := memstore.New()
	chain := &correlate.Chain{Audit: true, Correlators: []correlate.Correlator{
		header.NewInReplyTo(s, nil), header.NewConversationIndex(s, nil)}}
	eng := correlate.NewEngine(s, chain, nil)
	for _, f := range []tracked{
		{outlookMsg("root@x.example", "X440 timing", "X440 timing", classicIndex(t0, testGUID)), "incident:CAS-1"},
		{"Message-ID: <moved@crm.example>\nSubject: PPS input\n\n", "incident:CAS-2"},
	} {
		r, _ := correlate.ParseRecord(f.record)
		_, err := eng.Track(ctx, parse(t, f.raw), correlate.Match{Record: r})
		require.NoError(t, err)
	}
	reply := parse(t, "Message-ID: <r@y.example>\nIn-Reply-To: <moved@crm.example>\nSubject: RE: PPS input\n"+
		"Thread-Index: "+base64.StdEncoding.EncodeToString(classicIndex(t0, testGUID, t0.Add(time.Hour)))+"\n\n")
	d, err := eng.Correlate(ctx, reply)
	require.NoError(t, err)
	assert.Equal(t, "incident:CAS-2", d.Match.Record.String(), "In-Reply-To comes first in precedence")
	require.Len(t, d.Conflicts, 1, "the conversation index names another case:\n%s", d)
	assert.Equal(t, "incident:CAS-1", d.Conflicts[0].Record.String())
	assert.Equal(t, "conversation", d.Conflicts[0].Strategy)
	t.Logf("%s", d)
}
