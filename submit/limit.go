package submit

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitListener hands out at most n connections at a time. A connection
// beyond that is answered "421 4.7.0 … too many connections" and closed at
// once, so a client learns why instead of waiting in the backlog.
type limitListener struct {
	net.Listener
	sem    chan struct{}
	banner []byte
}

func newLimitListener(l net.Listener, n int, domain string) *limitListener {
	return &limitListener{
		Listener: l,
		sem:      make(chan struct{}, n),
		banner:   []byte("421 4.7.0 " + domain + " Too many connections, try again later\r\n"),
	}
}

// Accept implements net.Listener.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
			go func() {
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				c.Write(l.banner)
				c.Close()
			}()
		}
	}
}

// limitConn gives its slot back when closed (once, however often Close is
// called). After hangUp, it closes itself once the next write is done: the
// reply that says why. After afterReply(f), f runs once the next write is
// done, or when the connection closes first.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
	hang    atomic.Bool
	after   atomic.Pointer[func()]
}

func (c *limitConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.runAfter()
	if c.hang.Load() {
		c.Close()
	}
	return n, err
}

// afterReply makes f run once the next write is done (or c is closed).
func (c *limitConn) afterReply(f func()) { c.after.Store(&f) }

func (c *limitConn) runAfter() {
	if f := c.after.Swap(nil); f != nil {
		(*f)()
	}
}

// hangUp makes c close after its next write.
func (c *limitConn) hangUp() { c.hang.Store(true) }

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.runAfter()
	c.once.Do(c.release)
	return err
}
