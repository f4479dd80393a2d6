package guard_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// FuzzClassify feeds arbitrary messages, bodies kept, to the Classifier and
// to the default Engine: no panic, no error from the Engine, and the
// verdict is consistent — a known class, deterministic, an Original only
// for a Bounce, NoAutoResponse for every class but Normal, Evidence for
// every class but Normal, and a Decision that does not track an untracked
// class.
func FuzzClassify(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	for _, p := range files {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n--b--\r\n"))
	f.Add([]byte("From: MAILER-DAEMON\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"))
	f.Add([]byte("Return-Path: <>\r\n\r\nmessage-id: <x@y>\r\n"))
	f.Add([]byte("From: postmaster@x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nTWVzc2FnZS1JRDogPGFAYj4NCg==\r\n"))
	f.Add([]byte("X-Mailcorrelate-Loop: v1 mailcorrelate 0000000000000000\r\nMessage-ID: <a@b>\r\n\r\n"))
	key := []byte("fuzzing marker key, 16+ bytes")
	c := guard.New(&guard.Options{Marker: &guard.Marker{Keys: [][]byte{key}}})
	eng, err := mailcorrelate.New(memstore.New(), &mailcorrelate.Options{Guard: guard.Options{Marker: &guard.Marker{Keys: [][]byte{key}}}})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, _ := correlate.ParseMessage(bytes.NewReader(raw), &correlate.ParseOptions{KeepBody: true})
		if m == nil {
			m = &correlate.Message{Body: raw}
		}
		got := c.Classify(m)
		if got.Class > guard.Loop {
			t.Fatalf("unknown class %v", got.Class)
		}
		again := c.Classify(m)
		if got.Class != again.Class || got.Reason != again.Reason || !reflect.DeepEqual(got.Evidence, again.Evidence) {
			t.Fatalf("not deterministic: %v then %v", got, again)
		}
		if got.Original != nil && got.Class != guard.Bounce {
			t.Fatalf("%v with an Original", got.Class)
		}
		if got.Class != guard.Normal && (!got.NoAutoResponse || len(got.Evidence) == 0 || got.Reason == "") {
			t.Fatalf("%v without NoAutoResponse, Evidence or Reason: %+v", got.Class, got)
		}
		d, err := eng.Correlate(ctx, m)
		if err != nil {
			t.Fatalf("Correlate: %v", err)
		}
		if c := d.Class(); (c == guard.AutoReply || c == guard.Bounce || c == guard.Loop) && d.Track() {
			t.Fatalf("an untracked class asks for tracking: %s", d)
		}
		if d.Track() {
			if _, err := eng.Track(ctx, m, d.Match); err != nil {
				t.Fatalf("Track: %v", err)
			}
		}
	})
}
