package submit

import (
	"bufio"
	"bytes"
	"net/textproto"
	"testing"
)

// dotEncoded returns what textproto's DotWriter sends for p, the content
// of DATA, without its dot-stuffing and end line: the content as the
// upstream reads it back.
func dotEncoded(p []byte) []byte {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	dw := textproto.NewWriter(bw).DotWriter()
	dw.Write(p)
	dw.Close()
	bw.Flush()
	out := bytes.TrimSuffix(b.Bytes(), []byte(".\r\n"))
	// Every line ends with CRLF now; a line starting with a dot got one
	// more.
	var un []byte
	for len(out) > 0 {
		line := out
		if i := bytes.Index(out, []byte("\r\n")); i >= 0 {
			line = out[:i+2]
		}
		out = out[len(line):]
		if bytes.HasPrefix(line, []byte("..")) {
			line = line[1:]
		}
		un = append(un, line...)
	}
	return un
}

// FuzzContentEncoding: the content the relay sends in BDAT chunks is the
// content DATA would have carried — bare LF made CRLF, a final line break
// added — however the message is split into the reads it arrives in.
func FuzzContentEncoding(f *testing.F) {
	f.Add([]byte("Subject: a\r\n\r\nbody\r\n"), uint8(3))
	f.Add([]byte("Subject: a\n\nbody\nlast"), uint8(1))
	f.Add([]byte("a\r"), uint8(1))
	f.Add([]byte("a\r\r\n\n.b\r\n"), uint8(2))
	f.Add([]byte("\n"), uint8(0))
	f.Fuzz(func(t *testing.T, p []byte, cut uint8) {
		if len(p) == 0 {
			return
		}
		var n crlf
		buf := make([]byte, bdatRoom)
		k := int(cut) % (len(p) + 1)
		buf = n.append(buf, p[:k])
		buf = n.append(buf, p[k:])
		buf = n.end(buf)
		// Every LF not after a CR becomes CRLF; a line break ends it.
		var want []byte
		for i, c := range p {
			if c == '\n' && (i == 0 || p[i-1] != '\r') {
				want = append(want, '\r')
			}
			want = append(want, c)
		}
		switch {
		case bytes.HasSuffix(want, []byte("\n")):
		case bytes.HasSuffix(want, []byte("\r")):
			want = append(want, '\n')
		default:
			want = append(want, "\r\n"...)
		}
		if !bytes.Equal(buf[bdatRoom:], want) {
			t.Fatalf("%q cut at %d: %q, want %q", p, k, buf[bdatRoom:], want)
		}
		// DATA (textproto's DotWriter) carries the same, but where a CR
		// follows a CR: it takes "\r\r\n" for a CR and a bare LF.
		if !bytes.Contains(p, []byte("\r\r")) {
			if d := dotEncoded(p); !bytes.Equal(want, d) {
				t.Fatalf("%q: BDAT content %q, DATA content %q", p, want, d)
			}
		}
	})
}
