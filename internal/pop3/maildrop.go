// The TRANSACTION state: listing the maildrop, reading and deleting messages.

package pop3

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Stat returns the number of messages and their total size (STAT).
func (c *Client) Stat() (count int, size int64, err error) {
	text, err := c.cmd("STAT")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(text)
	if len(f) < 2 {
		return 0, 0, c.fail("STAT", fmt.Errorf("%w: STAT answer %q", ErrProtocol, text))
	}
	count, err1 := strconv.Atoi(f[0])
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || count < 0 || size < 0 {
		return 0, 0, c.fail("STAT", fmt.Errorf("%w: STAT answer %q", ErrProtocol, text))
	}
	return count, size, nil
}

// An Entry is one message of a listing: its number in this session and
// its unique id (UIDL) or its size (LIST).
type Entry struct {
	Num  int
	UIDL string
	Size int64
}

// UIDL lists every message's unique id (RFC 1939 UIDL). A server without
// UIDL answers -ERR: an *Error.
func (c *Client) UIDL() ([]Entry, error) { return c.listing("UIDL", true) }

// List lists every message's size in octets (LIST).
func (c *Client) List() ([]Entry, error) { return c.listing("LIST", false) }

// listing sends cmd and reads its multi-line answer of listings (see
// ParseListing).
func (c *Client) listing(cmd string, uidl bool) ([]Entry, error) {
	if _, err := c.cmd(cmd); err != nil {
		return nil, err
	}
	var out []Entry
	err := c.lines(cmd, func(line []byte) error {
		e, err := ParseListing(line, uidl)
		if err == nil {
			out = append(out, e)
		}
		return err
	})
	return out, err
}

// ParseListing parses one line of a UIDL listing ("NUM UIDL") or, when uidl
// is false, of a LIST listing ("NUM SIZE"). The unique id is the rest of
// the line (RFC 1939: 1 to 70 characters from 0x21 to 0x7E; other
// characters are kept, the caller decides what to do with them). A line
// that does not parse is an error wrapping ErrProtocol.
func ParseListing(line []byte, uidl bool) (Entry, error) {
	var e Entry
	s := strings.TrimSpace(string(line))
	num, rest, _ := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || rest == "" {
		return e, fmt.Errorf("%w: listing line %q", ErrProtocol, Sanitize(s))
	}
	e.Num = n
	if uidl {
		e.UIDL = rest
		return e, nil
	}
	sz, _, _ := strings.Cut(rest, " ")
	e.Size, err = strconv.ParseInt(sz, 10, 64)
	if err != nil || e.Size < 0 {
		return Entry{}, fmt.Errorf("%w: listing line %q", ErrProtocol, Sanitize(s))
	}
	return e, nil
}

// Top returns the header of message num and the first lines lines of its
// body (TOP; TOP num 0 is the header and the blank line after it), at
// most keep bytes of it. A refusal (no such message, no TOP) is an *Error.
func (c *Client) Top(num, lines int, keep int64) ([]byte, error) {
	if _, err := c.cmd(fmt.Sprintf("TOP %d %d", num, lines)); err != nil {
		return nil, err
	}
	return c.multi("TOP", keep, nil)
}

// Retr returns message num whole (RETR), at most keep bytes of it.
func (c *Client) Retr(num int, keep int64) ([]byte, error) {
	if _, err := c.cmd(fmt.Sprintf("RETR %d", num)); err != nil {
		return nil, err
	}
	return c.multi("RETR", keep, nil)
}

// A Result is one message of TopMany.
type Result struct {
	Num  int
	Data []byte
	// Err is the server's refusal of this message (an *Error); the others
	// are not affected.
	Err error
}

// maxPipeline bounds the commands a pipelined call sends before reading
// their answers: their bytes must fit the server's receive buffer while it
// writes answers nobody reads yet.
const maxPipeline = 512

// pipeline sends one command cmd per num (written by write) and reads its
// answer (with read), in groups of maxPipeline commands sent before their
// answers are read when pipelined (the server lists PIPELINING), saving a
// round trip per message; else one after the other. An error of read ends
// the call, but a -ERR (an *Error) only once the rest of its group is read,
// so that the session stays in step with the server.
func (c *Client) pipeline(cmd string, nums []int, pipelined bool, write func(n int), read func(n int) error) error {
	step := 1
	if pipelined {
		step = maxPipeline
	}
	for len(nums) > 0 {
		k := min(len(nums), step)
		group := nums[:k]
		nums = nums[k:]
		if c.broken != nil {
			return c.broken
		}
		c.deadline()
		for _, n := range group {
			write(n)
		}
		if err := c.w.Flush(); err != nil {
			return c.fail(cmd, err)
		}
		var refused error
		for _, n := range group {
			c.deadline()
			if err := read(n); err != nil {
				var pe *Error
				if !errors.As(err, &pe) {
					return err
				}
				if refused == nil {
					refused = err
				}
			}
		}
		if refused != nil {
			return refused
		}
	}
	return nil
}

// TopMany runs TOP num lines for every num, keeping at most keep bytes of
// each, pipelined when the server lists PIPELINING. A -ERR for one message
// is in its Result; a network or protocol error ends the call.
func (c *Client) TopMany(nums []int, lines int, keep int64, pipelined bool) ([]Result, error) {
	out := make([]Result, 0, len(nums))
	err := c.pipeline("TOP", nums, pipelined,
		func(n int) { fmt.Fprintf(c.w, "TOP %d %d\r\n", n, lines) },
		func(n int) error {
			r := Result{Num: n}
			if _, err := c.status("TOP"); err != nil {
				var pe *Error
				if !errors.As(err, &pe) {
					return err
				}
				r.Err = err
			} else if r.Data, err = c.multi("TOP", keep, nil); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	return out, err
}

// Dele marks messages deleted (DELE), pipelined when the server lists
// PIPELINING. They are removed when the session ends with QUIT, not
// before: a session that ends otherwise deletes nothing. A -ERR ends the
// call after the answers of the commands sent with it.
func (c *Client) Dele(nums []int, pipelined bool) error {
	return c.pipeline("DELE", nums, pipelined,
		func(n int) { fmt.Fprintf(c.w, "DELE %d\r\n", n) },
		func(int) error {
			_, err := c.status("DELE")
			return err
		})
}
