package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/imapsync"
	"github.com/mailcorrelate/mailcorrelate/internal/imapfake"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
	"github.com/mailcorrelate/mailcorrelate/store/memstore"
)

// The demo's account on the in-process server.
const (
	demoUser     = "support"
	demoPassword = "demo"
)

// serverFolder is the folder of the server that holds the sample's folder
// (the sample is a Maildir whose sent mail sits in "Inbox/Sent Items"; on
// an IMAP server it is the \Sent folder).
func serverFolder(f string) string {
	switch {
	case f == "Inbox" || f == "":
		return "INBOX"
	case f == samplegen.SentFolder:
		return "Sent"
	case strings.HasPrefix(f, "Inbox/"):
		return "INBOX/" + strings.TrimPrefix(f, "Inbox/")
	}
	return f
}

// loadSample creates the sample's folders and appends its mail in date
// order through add (an in-process server or Dovecot), and returns its
// seed and folder rules.
func loadSample(create func(folder string) error, add func(folder string, date time.Time, raw []byte) error) (map[string]correlate.Record, []folder.Mapping, error) {
	s := samplegen.Generate(nil)
	made := map[string]bool{"INBOX": true, "Sent": true}
	seeds := map[string]correlate.Record{}
	for _, m := range s.Mails {
		f := serverFolder(m.Folder)
		if !made[f] {
			if err := create(f); err != nil {
				return nil, nil, fmt.Errorf("create %s: %w", f, err)
			}
			made[f] = true
		}
		if err := add(f, m.Date, m.Raw); err != nil {
			return nil, nil, fmt.Errorf("append to %s: %w", f, err)
		}
		if m.Seed {
			rec, err := correlate.ParseRecord(m.Regarding)
			if err != nil {
				return nil, nil, err
			}
			seeds[correlate.NormalizeMessageID(m.MessageID)] = rec
		}
	}
	var rules []folder.Mapping
	for _, fm := range s.Folders {
		rec, err := correlate.ParseRecord(fm.Regarding)
		if err != nil {
			return nil, nil, err
		}
		rules = append(rules, folder.Mapping{FolderPath: fm.FolderPath, Record: rec})
	}
	return seeds, rules, nil
}

// startDemoServer starts the in-process server with the sample loaded.
func startDemoServer() (*imapfake.Server, map[string]correlate.Record, []folder.Mapping, error) {
	srv, err := imapfake.Start()
	if err != nil {
		return nil, nil, nil, err
	}
	srv.AddUser(demoUser, demoPassword)
	seeds, rules, err := loadSample(
		func(f string) error { return srv.Create(demoUser, f) },
		func(f string, d time.Time, raw []byte) error { _, err := srv.Append(demoUser, f, d, raw); return err })
	if err != nil {
		srv.Close()
		return nil, nil, nil, err
	}
	return srv, seeds, rules, nil
}

// runDemo syncs the sample from an in-process server, then drags an email
// into a tracked folder the way a person would, and shows the relink.
func runDemo(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	srv, seeds, rules, err := startDemoServer()
	if err != nil {
		return err
	}
	defer srv.Close()
	mb := imapsync.Mailbox{Address: samplegen.Mailbox, URL: "imap://" + demoUser + "@" + srv.Addr, Password: demoPassword,
		Folders: rules, Sent: true}
	st := memstore.New()
	ss, err := newSession(cfg, st, []imapsync.Mailbox{mb}, seeds, stdout)
	if err != nil {
		return err
	}
	ss.note(fmt.Sprintf("demo: an IMAP server on %s holds the sample mailbox %s; first pass over Inbox, %s, %s and Sent:\n",
		srv.Addr, samplegen.Mailbox, samplegen.FolderContoso, samplegen.FolderTrackOnly))
	if err := ss.s.SyncOnce(ctx); err != nil {
		return err
	}
	// A person drags a case email from Inbox into the Contoso folder.
	uid, id, from, err := pickMove(ctx, srv, ss)
	if err != nil {
		return err
	}
	target := serverFolder(samplegen.FolderContoso)
	if _, err := srv.Move(demoUser, "INBOX", uid, target); err != nil {
		return err
	}
	ss.note(fmt.Sprintf("\ndemo: a person moves <%s> (filed under %s) from INBOX into %s, mapped to account:contoso;\n"+
		"the sync idles on Inbox, sees the message leave, and re-links it (a folder rule beats a manual regarding):\n", id, from, target))
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ss.s.Run(rctx) }()
	relinked := false
	for !relinked && rctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		if t, err := ss.eng.Lookup(rctx, id); err == nil && t.Record.String() == "account:contoso" {
			relinked = true
		}
	}
	cancel()
	<-done
	if err := ss.flush(); err != nil {
		return err
	}
	summary(stderr, ss.s.Status())
	if !relinked {
		return fmt.Errorf("demo: <%s> was not re-linked within 15 seconds", id)
	}
	return nil
}

// pickMove chooses the first Inbox email filed under a case.
func pickMove(ctx context.Context, srv *imapfake.Server, ss *session) (uint32, string, correlate.Record, error) {
	uids, err := srv.UIDs(demoUser, "INBOX")
	if err != nil {
		return 0, "", correlate.Record{}, err
	}
	s := samplegen.Generate(nil)
	i := 0
	for _, m := range s.Mails {
		if serverFolder(m.Folder) != "INBOX" {
			continue
		}
		uid := uids[i]
		i++
		t, err := ss.eng.Lookup(ctx, m.MessageID)
		if err == nil && t.Record.Type == "incident" {
			return uid, t.MessageID, t.Record, nil
		}
	}
	return 0, "", correlate.Record{}, fmt.Errorf("demo: no Inbox email filed under a case")
}
