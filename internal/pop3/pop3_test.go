package pop3

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// canned is a net.Conn whose server side is a script: reads return the
// server's bytes, writes are recorded.
type canned struct {
	r      io.Reader
	sent   bytes.Buffer
	closed bool
}

func newCanned(server string) *canned { return &canned{r: strings.NewReader(server)} }

func (c *canned) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *canned) Write(p []byte) (int, error)      { return c.sent.Write(p) }
func (c *canned) Close() error                     { c.closed = true; return nil }
func (c *canned) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *canned) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *canned) SetDeadline(time.Time) error      { return nil }
func (c *canned) SetReadDeadline(time.Time) error  { return nil }
func (c *canned) SetWriteDeadline(time.Time) error { return nil }
func (c *canned) commands() []string {
	return strings.Split(strings.TrimSpace(c.sent.String()), "\r\n")
}
func client(t *testing.T, server string) (*Client, *canned) {
	t.Helper()
	conn := newCanned("+OK ready\r\n" + server)
	c, err := NewClient(conn, time.Second)
	require.NoError(t, err)
	return c, conn
}

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		line       string
		ok         bool
		code, text string
		bad        bool
	}{
		{line: "+OK", ok: true},                                // no text: allowed
		{line: "+OK 2 messages", ok: true, text: "2 messages"}, // the usual
		{line: "+ok lower case", ok: true, text: "lower case"}, // servers differ in case; accepted
		{line: "-ERR [IN-USE] locked", code: "IN-USE", text: "locked"},
		{line: "-ERR [SYS/TEMP] later", code: "SYS/TEMP", text: "later"},
		{line: "-ERR no such message", text: "no such message"},
		{line: "-ERR [not closed", text: "[not closed"}, // no "]": no code, text kept
		{line: "+OK [AUTH] not a code on +OK", ok: true, text: "[AUTH] not a code on +OK"},
		{line: "-ERR \x00\x1b[31m evil", text: "  [31m evil"}, // control characters replaced
		{line: "-ERR\x00", bad: true},                         // -ERR must end or be followed by a space
		{line: "* OK imap", bad: true},                        // not POP3
		{line: "+OKAY", bad: true},                            // +OK must end or be followed by a space
		{line: "", bad: true},
	} {
		ok, code, text, err := ParseStatus([]byte(tc.line))
		if tc.bad {
			assert.ErrorIs(t, err, ErrProtocol, "%q", tc.line)
			continue
		}
		require.NoError(t, err, "%q", tc.line)
		assert.Equal(t, tc.ok, ok, "%q", tc.line)
		assert.Equal(t, tc.code, code, "%q", tc.line)
		assert.Equal(t, tc.text, text, "%q", tc.line)
	}
}

func TestParseListing(t *testing.T) {
	for _, tc := range []struct {
		line string
		uidl bool
		want Entry
		bad  bool
	}{
		{line: "1 000000016b14bb9d", uidl: true, want: Entry{Num: 1, UIDL: "000000016b14bb9d"}}, // Dovecot's
		{line: "12 whatever/with+chars", uidl: true, want: Entry{Num: 12, UIDL: "whatever/with+chars"}},
		{line: "3 1234", want: Entry{Num: 3, Size: 1234}},
		{line: "3 1234 extra", want: Entry{Num: 3, Size: 1234}}, // RFC 1939 allows more after the size
		{line: "0 abc", uidl: true, bad: true},                  // messages are numbered from 1
		{line: "x abc", uidl: true, bad: true},
		{line: "4", uidl: true, bad: true}, // no id
		{line: "4 -1", bad: true},          // no negative size
		{line: "4 big", bad: true},
	} {
		e, err := ParseListing([]byte(tc.line), tc.uidl)
		if tc.bad {
			assert.ErrorIs(t, err, ErrProtocol, tc.line)
			continue
		}
		require.NoError(t, err, tc.line)
		assert.Equal(t, tc.want, e, tc.line)
	}
}

// TestMultiLine: dot-unstuffing, the terminator, and the bound on what is
// kept (the rest is read, so the next response is in step).
func TestMultiLine(t *testing.T) {
	c, _ := client(t, "+OK\r\nFrom: a@b\r\n..leading dot\r\n.\r\n+OK\r\nline one\r\nline two\r\n.\r\n+OK 1 2\r\n")
	got, err := c.Retr(1, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, "From: a@b\r\n.leading dot\r\n", string(got), "a doubled dot is one dot")
	got, err = c.Retr(2, 5)
	require.NoError(t, err)
	assert.Equal(t, "line ", string(got), "kept: at most 5 bytes")
	n, size, err := c.Stat()
	require.NoError(t, err, "the truncated response was read to its end: the session is in step")
	assert.Equal(t, 1, n)
	assert.Equal(t, int64(2), size)
}

// TestLongLines: a message line longer than the reader's buffer is kept
// whole; the dot of a line that starts after a long one is unstuffed.
func TestLongLines(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	c, _ := client(t, "+OK\r\n"+long+"\r\n..x\r\n.\r\n")
	got, err := c.Retr(1, 1<<20)
	require.NoError(t, err)
	assert.Equal(t, long+"\r\n.x\r\n", string(got))
}

func TestMaxResponse(t *testing.T) {
	c, _ := client(t, "+OK\r\n"+strings.Repeat("line\r\n", 1000)+".\r\n")
	c.MaxResponseBytes = 1000
	_, err := c.Retr(1, 100)
	assert.ErrorIs(t, err, ErrProtocol, "an endless response is cut")
	assert.ErrorIs(t, c.Noop(), ErrProtocol, "and the session is unusable")
}

func TestUnexpectedEOF(t *testing.T) {
	c, _ := client(t, "+OK\r\nFrom: a@b\r\nSubj") // the connection drops mid-RETR
	_, err := c.Retr(1, 1<<20)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Error(t, c.Noop(), "a broken session stays broken")
}

func TestErrGoesOn(t *testing.T) {
	c, _ := client(t, "-ERR [SYS/PERM] no UIDL here\r\n+OK\r\n")
	_, err := c.UIDL()
	var pe *Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "UIDL", pe.Command)
	assert.Equal(t, "SYS/PERM", pe.Code)
	assert.False(t, pe.Temporary())
	assert.Equal(t, "pop3: UIDL refused: -ERR [SYS/PERM] no UIDL here", pe.Error())
	assert.NoError(t, c.Noop(), "after -ERR the session goes on")
}

func TestGreetingRefused(t *testing.T) {
	_, err := NewClient(newCanned("-ERR [SYS/TEMP] too many connections\r\n"), time.Second)
	var pe *Error
	require.ErrorAs(t, err, &pe)
	assert.True(t, pe.Temporary())
	_, err = NewClient(newCanned("* OK IMAP4rev1\r\n"), time.Second)
	assert.ErrorIs(t, err, ErrProtocol, "an IMAP server is no POP3 server")
}

func TestCapa(t *testing.T) {
	c, _ := client(t, "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nsasl PLAIN XOAUTH2\r\nPIPELINING\r\n.\r\n")
	caps, err := c.Capa()
	require.NoError(t, err)
	assert.True(t, caps.Has("top"))
	assert.True(t, caps.Has("PIPELINING"))
	assert.False(t, caps.Has("STLS"))
	assert.True(t, caps.SASL("xoauth2"))
	assert.False(t, caps.SASL("LOGIN"))
}

func TestLoginAndListings(t *testing.T) {
	c, conn := client(t, "+OK\r\n+OK\r\n+OK\r\n1 a\r\n2 b\r\n.\r\n+OK\r\n1 10\r\n2 20\r\n.\r\n+OK\r\n+OK\r\n+OK\r\n+OK bye\r\n")
	require.NoError(t, c.Login("anna", "secret"))
	u, err := c.UIDL()
	require.NoError(t, err)
	assert.Equal(t, []Entry{{Num: 1, UIDL: "a"}, {Num: 2, UIDL: "b"}}, u)
	l, err := c.List()
	require.NoError(t, err)
	assert.Equal(t, []Entry{{Num: 1, Size: 10}, {Num: 2, Size: 20}}, l)
	require.NoError(t, c.Dele([]int{1, 2}, true))
	require.NoError(t, c.Noop())
	require.NoError(t, c.Quit())
	assert.Equal(t, []string{"USER anna", "PASS secret", "UIDL", "LIST", "DELE 1", "DELE 2", "NOOP", "QUIT"}, conn.commands())
	assert.True(t, conn.closed)
	assert.Error(t, c.Login("a\r\nDELE 1", "x"), "no command injection through a user name")
}

// TestTopMany: pipelined, the commands go out before the answers are read;
// a -ERR for one message does not stop the others.
func TestTopMany(t *testing.T) {
	c, conn := client(t, "+OK\r\nA: 1\r\n\r\n.\r\n-ERR no such message\r\n+OK\r\nA: 3\r\n\r\n.\r\n")
	res, err := c.TopMany([]int{1, 2, 3}, 0, 1<<10, true)
	require.NoError(t, err)
	require.Len(t, res, 3)
	assert.Equal(t, "A: 1\r\n\r\n", string(res[0].Data))
	assert.Error(t, res[1].Err)
	assert.Equal(t, "A: 3\r\n\r\n", string(res[2].Data))
	assert.Equal(t, []string{"TOP 1 0", "TOP 2 0", "TOP 3 0"}, conn.commands())
}

// TestAuthXOAUTH2Long: an initial response that does not fit the 255-octet
// AUTH line (RFC 5034) is sent after the server's empty challenge, as
// Microsoft 365 documents.
func TestAuthXOAUTH2Long(t *testing.T) {
	c, conn := client(t, "+ \r\n+OK authenticated\r\n")
	tok := strings.Repeat("t", 400)
	require.NoError(t, c.Auth(sasl.NewPlainClient("", "anna", tok)))
	cmds := conn.commands()
	require.Len(t, cmds, 2)
	assert.Equal(t, "AUTH PLAIN", cmds[0])
	assert.Greater(t, len(cmds[1]), 255)
}

func TestAuthShortAndRefused(t *testing.T) {
	c, conn := client(t, "+OK\r\n")
	require.NoError(t, c.Auth(sasl.NewPlainClient("", "anna", "pw")))
	assert.Equal(t, []string{"AUTH PLAIN AGFubmEAcHc="}, conn.commands(), "a short initial response rides on the AUTH line")

	c, _ = client(t, "-ERR [AUTH] Authentication failed.\r\n")
	err := c.Auth(sasl.NewPlainClient("", "anna", "bad"))
	var pe *Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "AUTH", pe.Code)
}

// errChallenge is a SASL client like XOAUTH2: an error challenge is
// answered with an empty response.
type errChallenge struct{ got []byte }

func (e *errChallenge) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=a\x01auth=Bearer t\x01\x01"), nil
}
func (e *errChallenge) Next(ch []byte) ([]byte, error) { e.got = ch; return []byte{}, nil }

func TestAuthErrorChallenge(t *testing.T) {
	c, conn := client(t, "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n-ERR [AUTH] token refused\r\n")
	x := &errChallenge{}
	err := c.Auth(x)
	require.Error(t, err)
	assert.Equal(t, `{"status":"401"}`, string(x.got))
	assert.True(t, strings.HasSuffix(conn.sent.String(), "\r\n\r\n"), "the error challenge answered with an empty response")

	c, _ = client(t, "+ !!!notbase64\r\n-ERR cancelled\r\n")
	err = c.Auth(&errChallenge{})
	assert.ErrorIs(t, err, ErrProtocol)
}

func TestStartTLSInjection(t *testing.T) {
	c, _ := client(t, "+OK begin TLS\r\n+OK injected\r\n")
	err := c.StartTLS(nil)
	assert.ErrorIs(t, err, ErrProtocol, "bytes after the STLS answer are refused")
}

func TestLongStatusLine(t *testing.T) {
	c, _ := client(t, "+OK "+strings.Repeat("x", 70<<10)+"\r\n")
	err := c.Noop()
	assert.ErrorIs(t, err, ErrProtocol)
	assert.True(t, errors.Is(c.Noop(), ErrProtocol))
}
