package imapsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
	"github.com/emersion/go-imap/commands"
	"github.com/emersion/go-imap/responses"
	"github.com/emersion/go-sasl"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/pop3"
)

// The IMAP layer: connecting, authenticating, listing folders with their
// identity, fetching headers and bodies, waiting for mail. Everything that
// speaks IMAP is here; the sync logic (sync.go) sees folders and messages.

// imapConn is one authenticated IMAP session.
type imapConn struct {
	c        *client.Client
	raw      net.Conn
	stop     func() bool // stops the context watcher
	timeout  time.Duration
	caps     map[string]bool
	selected string // the folder EXAMINEd, "" when none
	selUV    uint32
	selNext  uint32        // its UIDNEXT when EXAMINEd
	selMsgs  uint32        // its message count when EXAMINEd
	wake     chan struct{} // a unilateral update arrived (EXISTS, EXPUNGE …)
	idOK     int           // folder id support: 0 unknown, 1 X-GUID works, -1 it does not
}

// connect dials, secures and authenticates a session for mb.
func connect(ctx context.Context, mb *mailbox, o *Options) (*imapConn, error) {
	ep := mb.ep
	dctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	raw, err := dialEndpoint(dctx, ep, o)
	if err != nil {
		return nil, err
	}
	ic := &imapConn{raw: raw, timeout: o.Timeout, wake: make(chan struct{}, 1)}
	// go-imap v1 blocks; closing the connection is how a cancelled
	// context ends a command.
	ic.stop = context.AfterFunc(ctx, func() { raw.Close() })
	raw.SetDeadline(time.Now().Add(o.Timeout))
	c, err := client.New(raw)
	if err != nil {
		ic.close()
		return nil, transient(CauseConnect, fmt.Errorf("greeting from %s: %w", ep.addr, err))
	}
	ic.c = c
	c.Timeout = o.Timeout
	c.ErrorLog = discardLog{}
	updates := make(chan client.Update, 64)
	c.Updates = updates
	go ic.drain(updates, c.LoggedOut())

	if !ep.tls {
		ok, err := c.SupportStartTLS()
		if err != nil {
			ic.close()
			return nil, transient(CauseConnect, fmt.Errorf("capabilities of %s: %w", ep.addr, err))
		}
		switch {
		case ok && !ep.loopback:
			if err := c.StartTLS(ep.tlsConfig(o)); err != nil {
				ic.close()
				return nil, transient(CauseTLS, fmt.Errorf("STARTTLS with %s: %w", ep.addr, err))
			}
		case !ep.loopback:
			ic.close()
			return nil, permanent(CauseTLS, fmt.Errorf("%s offers no STARTTLS: refusing to send credentials in clear text (use imaps://)", ep.addr))
		}
	}
	if err := ic.login(mb); err != nil {
		ic.close()
		return nil, err
	}
	caps, err := c.Capability()
	if err != nil {
		ic.close()
		return nil, transient(CauseConnect, fmt.Errorf("capabilities: %w", err))
	}
	ic.caps = caps
	return ic, nil
}

// discardLog drops go-imap's own log lines; errors reach the caller.
type discardLog struct{}

func (discardLog) Printf(string, ...interface{}) {}
func (discardLog) Println(...interface{})        {}

// drain forwards unilateral updates as wake-ups, so the reader never
// blocks on a full channel.
func (ic *imapConn) drain(updates <-chan client.Update, done <-chan struct{}) {
	for {
		select {
		case u := <-updates:
			switch u.(type) {
			case *client.MailboxUpdate, *client.ExpungeUpdate:
				select {
				case ic.wake <- struct{}{}:
				default:
				}
			}
		case <-done:
			return
		}
	}
}

// login authenticates with the mailbox's password (LOGIN, or AUTHENTICATE
// PLAIN where LOGIN is disabled) or its XOAUTH2 token. A tagged NO is
// permanent — the password or token was refused — unless the server says
// the refusal is temporary ([UNAVAILABLE]).
func (ic *imapConn) login(mb *mailbox) error {
	c := ic.c
	user := mb.user
	var status *imap.StatusResp
	var err error
	switch {
	case mb.cfg.TokenSource != nil:
		tok, terr := accessToken(mb)
		if terr != nil {
			return terr
		}
		x := &xoauth2{user: user, token: tok}
		status, err = ic.authenticate(x)
		if err == nil && status != nil && status.Type != imap.StatusRespOk && len(x.failed) > 0 {
			status.Info += " (" + sanitize(string(x.failed)) + ")"
		}
	default:
		caps, cerr := c.Capability()
		if cerr != nil {
			return transient(CauseConnect, cerr)
		}
		if caps["LOGINDISABLED"] {
			status, err = ic.authenticate(sasl.NewPlainClient("", user, mb.cfg.Password))
		} else {
			status, err = c.Execute(&commands.Login{Username: user, Password: mb.cfg.Password}, nil)
		}
	}
	if err != nil {
		return transient(CauseConnect, fmt.Errorf("login: %w", err))
	}
	if status == nil {
		return transient(CauseConnect, errors.New("login: connection closed"))
	}
	if status.Type != imap.StatusRespOk {
		msg := fmt.Errorf("login as %q refused: %s %s", user, status.Type, sanitize(status.Info))
		if status.Code == "UNAVAILABLE" || status.Code == "SERVERBUG" || status.Code == "LIMIT" {
			return transient(CauseServer, msg)
		}
		return permanent(CauseAuth, msg)
	}
	c.SetState(imap.AuthenticatedState, nil)
	return nil
}

// authenticate runs AUTHENTICATE with a SASL client and returns the tagged
// status.
func (ic *imapConn) authenticate(sc sasl.Client) (*imap.StatusResp, error) {
	mech, ir, err := sc.Start()
	if err != nil {
		return nil, err
	}
	cmd := &commands.Authenticate{Mechanism: mech}
	res := &responses.Authenticate{Mechanism: sc, InitialResponse: ir, RepliesCh: make(chan []byte, 10)}
	if ok, _ := ic.c.Support("SASL-IR"); ok {
		cmd.InitialResponse = ir
		res.InitialResponse = nil
	}
	return ic.c.Execute(cmd, res)
}

func (ic *imapConn) supports(c string) bool {
	if ic.caps != nil {
		return ic.caps[c]
	}
	ok, _ := ic.c.Support(c)
	return ok
}

// close logs out (briefly) and closes the connection.
func (ic *imapConn) close() {
	if ic.c != nil && ic.c.State() != imap.LogoutState {
		ic.raw.SetDeadline(time.Now().Add(2 * time.Second))
		ic.c.Logout()
	}
	ic.raw.Close()
	if ic.stop != nil {
		ic.stop()
	}
}

// folderInfo is a folder as LIST shows it.
type folderInfo struct {
	name  string // as the server spells it, decoded ("INBOX/Clients/Contoso")
	delim string
	attrs []string
}

func (f folderInfo) has(attr string) bool {
	for _, a := range f.attrs {
		if strings.EqualFold(a, attr) {
			return true
		}
	}
	return false
}

// list returns the selectable folders.
func (ic *imapConn) list() ([]folderInfo, error) {
	ch := make(chan *imap.MailboxInfo, 64)
	done := make(chan error, 1)
	go func() { done <- ic.c.List("", "*", ch) }()
	var out []folderInfo
	for mi := range ch {
		f := folderInfo{name: mi.Name, delim: mi.Delimiter, attrs: mi.Attributes}
		if f.has(imap.NoSelectAttr) || f.has(`\NonExistent`) {
			continue
		}
		out = append(out, f)
	}
	if err := <-done; err != nil {
		return nil, netErr(err, "LIST")
	}
	return out, nil
}

// folderStatus is what STATUS says of a folder.
type folderStatus struct {
	name        string
	id          string // the server's folder id; see folderID
	uidValidity uint32
	uidNext     uint32
	messages    uint32
	modSeq      uint64 // HIGHESTMODSEQ, 0 without CONDSTORE
}

// Folder id kinds: a prefix says where the id came from.
const (
	idMailboxID = "mailboxid:" // RFC 8474 OBJECTID
	idXGUID     = "x-guid:"    // Dovecot's STATUS (X-GUID)
	idName      = "name:"      // name and UIDVALIDITY: no stable id
)

// status runs STATUS on a folder, asking for its id where the server has
// one. A folder that does not exist is reported by errNoFolder.
func (ic *imapConn) status(name string) (folderStatus, error) {
	items := []imap.StatusItem{imap.StatusUidNext, imap.StatusUidValidity, imap.StatusMessages}
	if ic.supports("CONDSTORE") {
		items = append(items, "HIGHESTMODSEQ")
	}
	switch {
	case ic.supports("OBJECTID"):
		items = append(items, "MAILBOXID")
	case ic.idOK >= 0:
		items = append(items, "X-GUID")
	}
	st, err := ic.c.Status(name, items)
	if err != nil && ic.idOK == 0 && !ic.supports("OBJECTID") && isStatusError(err) {
		// Not Dovecot: no X-GUID. Ask again without it, and never again.
		ic.idOK = -1
		return ic.status(name)
	}
	if err != nil {
		if isStatusError(err) {
			return folderStatus{}, fmt.Errorf("%w: STATUS %q: %s", errNoFolder, name, sanitize(err.Error()))
		}
		return folderStatus{}, netErr(err, fmt.Sprintf("STATUS %q", name))
	}
	fs := folderStatus{name: name, uidValidity: st.UidValidity, uidNext: st.UidNext, messages: st.Messages}
	if v, ok := st.Items["HIGHESTMODSEQ"]; ok {
		fs.modSeq, _ = strconv.ParseUint(fmt.Sprint(v), 10, 64)
	}
	if v, ok := st.Items["MAILBOXID"]; ok {
		if l, isList := v.([]interface{}); isList && len(l) > 0 {
			v = l[0]
		}
		if s := fmt.Sprint(v); s != "" && s != "<nil>" {
			fs.id = boundID(idMailboxID + s)
		}
	}
	if v, ok := st.Items["X-GUID"]; ok {
		if s := fmt.Sprint(v); s != "" && s != "<nil>" {
			fs.id = boundID(idXGUID + s)
			ic.idOK = 1
		}
	}
	if fs.id == "" {
		fs.id = boundID(idName + name + ";" + strconv.FormatUint(uint64(fs.uidValidity), 10))
	}
	return fs, nil
}

// maxIDBytes bounds a folder id: ids go into tracked emails, folder rules
// and the names of sync state, and a server's are short (a GUID, an
// Exchange id of about 120 characters) unless it is hostile or the folder
// name is long.
const maxIDBytes = 200

// boundID returns id, or, when longer than maxIDBytes, its kind prefix and
// a SHA-256 of it: stable, and as distinct.
func boundID(id string) string {
	if len(id) <= maxIDBytes {
		return id
	}
	kind := id[:strings.IndexByte(id, ':')+1]
	sum := sha256.Sum256([]byte(id))
	return kind + "sha256-" + hex.EncodeToString(sum[:])
}

// netErr classifies a failed command: refused by the server (a tagged NO
// or BAD) is a server error, anything else a lost connection.
func netErr(err error, op string) error {
	if isStatusError(err) {
		return transient(CauseServer, fmt.Errorf("%s: %w", op, err))
	}
	return transient(CauseConnect, fmt.Errorf("%s: %w", op, err))
}

// errNoFolder reports a folder that cannot be selected (deleted, renamed
// away, or never there).
var errNoFolder = errors.New("no such folder")

// isStatusError reports a tagged NO or BAD: the server answered, and
// refused (go-imap v1 returns those as plain errors, the connection's
// failures as net errors or its own).
func isStatusError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return false
	}
	s := err.Error()
	return !strings.HasPrefix(s, "imap: ") && !strings.Contains(s, "use of closed network connection")
}

// examine selects a folder read-only (EXAMINE: nothing the sync does can
// change a flag) unless it is selected already, and checks its
// UIDVALIDITY.
func (ic *imapConn) examine(name string, uidValidity uint32) error {
	if ic.selected == name && ic.selUV == uidValidity {
		return nil
	}
	ic.selected = ""
	st, err := ic.c.Select(name, true)
	if err != nil {
		if isStatusError(err) {
			return fmt.Errorf("%w: EXAMINE %q: %s", errNoFolder, name, sanitize(err.Error()))
		}
		return netErr(err, fmt.Sprintf("EXAMINE %q", name))
	}
	if uidValidity != 0 && st.UidValidity != uidValidity {
		return fmt.Errorf("%w: %q now has UIDVALIDITY %d, not %d", errUIDValidity, name, st.UidValidity, uidValidity)
	}
	ic.selected, ic.selUV, ic.selNext, ic.selMsgs = name, st.UidValidity, st.UidNext, st.Messages
	return nil
}

// errUIDValidity reports a folder whose UIDVALIDITY changed during a pass.
var errUIDValidity = errors.New("UIDVALIDITY changed")

// searchUIDs returns the UIDs above after in the selected folder, in
// order.
func (ic *imapConn) searchUIDs(after uint32) ([]uint32, error) {
	crit := imap.NewSearchCriteria()
	set := new(imap.SeqSet)
	set.AddRange(after+1, 0)
	crit.Uid = set
	uids, err := ic.c.UidSearch(crit)
	if err != nil {
		return nil, netErr(err, fmt.Sprintf("UID SEARCH in %q", ic.selected))
	}
	// "n:*" includes the last message even when its UID is below n.
	out := uids[:0]
	for _, u := range uids {
		if u > after {
			out = append(out, u)
		}
	}
	sortUIDs(out)
	return out, nil
}

func sortUIDs(u []uint32) {
	for i := 1; i < len(u); i++ { // nearly always sorted already
		for j := i; j > 0 && u[j] < u[j-1]; j-- {
			u[j], u[j-1] = u[j-1], u[j]
		}
	}
}

// fetched is one message's header as fetched.
type fetched struct {
	uid          uint32 // over POP3: the message number in the session
	size         int64
	internalDate time.Time // over POP3: the newest Received date, else Date
	header       []byte
	// uidl and hash are a POP3 message's unique id and the digest of its
	// header (which tells a UIDL the server gave to another message).
	uidl, hash string
	// msg is the parsed header (nil when unreadable, perr says why).
	msg  *correlate.Message
	perr error
}

// fetchHeaders fetches the headers of uids in the selected folder, bounded
// to maxHeader bytes each, never setting \Seen (BODY.PEEK). Messages the
// server no longer has are simply absent.
func (ic *imapConn) fetchHeaders(uids []uint32, maxHeader int64, dst []fetched) ([]fetched, error) {
	set := new(imap.SeqSet)
	for _, u := range uids {
		set.AddNum(u)
	}
	section := &imap.BodySectionName{BodyPartName: imap.BodyPartName{Specifier: imap.HeaderSpecifier}, Peek: true,
		Partial: []int{0, int(maxHeader)}}
	items := []imap.FetchItem{imap.FetchUid, imap.FetchRFC822Size, imap.FetchInternalDate, section.FetchItem()}
	ch := make(chan *imap.Message, 32)
	done := make(chan error, 1)
	go func() { done <- ic.c.UidFetch(set, items, ch) }()
	for m := range ch {
		if m.Uid == 0 {
			continue
		}
		f := fetched{uid: m.Uid, size: int64(m.Size), internalDate: m.InternalDate}
		for name, lit := range m.Body {
			if name.Specifier == imap.HeaderSpecifier && lit != nil {
				if bb, ok := lit.(*bytes.Buffer); ok {
					f.header = bb.Bytes() // go-imap reads a literal into a buffer of its own: no copy
				} else {
					b := make([]byte, lit.Len())
					if _, err := io.ReadFull(lit, b); err == nil {
						f.header = b
					}
				}
				break
			}
		}
		dst = append(dst, f)
	}
	if err := <-done; err != nil {
		return dst, netErr(err, fmt.Sprintf("UID FETCH in %q", ic.selected))
	}
	return dst, nil
}

// fetchText fetches at most max bytes of one message's body (its text after
// the header), never setting \Seen.
func (ic *imapConn) fetchText(uid uint32, max int64) ([]byte, error) {
	set := new(imap.SeqSet)
	set.AddNum(uid)
	section := &imap.BodySectionName{BodyPartName: imap.BodyPartName{Specifier: imap.TextSpecifier}, Peek: true,
		Partial: []int{0, int(max)}}
	ch := make(chan *imap.Message, 1)
	done := make(chan error, 1)
	go func() { done <- ic.c.UidFetch(set, []imap.FetchItem{imap.FetchUid, section.FetchItem()}, ch) }()
	var body []byte
	for m := range ch {
		for name, lit := range m.Body {
			if name.Specifier == imap.TextSpecifier && lit != nil && body == nil {
				body = make([]byte, lit.Len())
				io.ReadFull(lit, body)
			}
		}
	}
	if err := <-done; err != nil {
		return nil, netErr(err, fmt.Sprintf("UID FETCH body in %q", ic.selected))
	}
	return body, nil
}

// wait returns when there may be new mail: with IDLE, a unilateral update
// on Inbox (new mail, a message moved out of it); d passed; or ctx ended
// (then its error). inbox is Inbox as the pass saw it: mail that arrived
// or left since returns at once. With useIdle and a server that offers
// IDLE, it idles on Inbox, re-issuing IDLE every restart.
func (ic *imapConn) wait(ctx context.Context, d time.Duration, useIdle bool, restart time.Duration, inbox folderStatus) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	// The pass's own commands (STATUS of the selected folder, EXAMINE)
	// bring updates too: they are not news.
	select {
	case <-ic.wake:
	default:
	}
	if !useIdle || !ic.supports("IDLE") {
		select {
		case <-timer.C:
			// A poll: NOOP keeps the session alive and proves it works.
			if err := ic.c.Noop(); err != nil {
				return transient(CauseConnect, fmt.Errorf("NOOP: %w", err))
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ic.selected = ""
	if err := ic.examine("INBOX", 0); err != nil {
		return err
	}
	if inbox.uidValidity != 0 && (ic.selNext != inbox.uidNext || ic.selMsgs != inbox.messages) {
		return nil // mail arrived in Inbox or left it since the pass looked
	}
	select {
	case <-ic.wake:
	default:
	}
	ic.c.Timeout = 0 // IDLE lasts; the restart bounds it
	defer func() { ic.c.Timeout = ic.timeout }()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- ic.c.Idle(stop, &client.IdleOptions{LogoutTimeout: restart}) }()
	var ctxErr error
	select {
	case <-ic.wake:
	case <-timer.C:
	case <-ctx.Done():
		ctxErr = ctx.Err()
	case err := <-done:
		if err == nil {
			err = errors.New("IDLE ended")
		}
		return transient(CauseConnect, fmt.Errorf("IDLE: %w", err))
	}
	close(stop)
	ic.raw.SetDeadline(time.Now().Add(ic.timeout))
	err := <-done
	if ctxErr != nil {
		return ctxErr
	}
	if err != nil {
		return transient(CauseConnect, fmt.Errorf("IDLE: %w", err))
	}
	return nil
}

// sanitize bounds a server's text for a status or log line (300 bytes)
// and strips control characters and invalid UTF-8.
func sanitize(s string) string { return pop3.Sanitize(s) }
