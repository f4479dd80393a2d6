package correlate

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
)

// readHeaderBlock returns the header lines up to (not including) the blank
// line that ends them, with a leading mbox "From " line removed. It reads
// what br has buffered in bulk, finding line ends with IndexByte, and never
// asks br for more than the current line needs, so a reader that delivers
// a message in pieces is not waited on beyond the header. The header, its
// blank line included, must not exceed max bytes (max < 0: no bound).
// The lines are appended to buf[:0]; the result is buf or its growth, also
// returned with an error so the caller can reuse it.
func readHeaderBlock(br *bufio.Reader, max int64, buf []byte) ([]byte, error) {
	buf = buf[:0]
	if err := skipMboxLine(br, max); err != nil {
		return buf, err
	}
	lineStart := true // the next byte begins a line
	crEOF := false    // a lone CR ends the input: it is text, not a line end
	for {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if err != io.EOF {
					return buf, fmt.Errorf("correlate: reading header: %w", err)
				}
				if len(buf) == 0 {
					return buf, ErrNoHeader
				}
				return buf, nil
			}
		}
		data, _ := br.Peek(br.Buffered())
		i := 0 // data[:i] is read
		needMore := false
		for i < len(data) {
			if lineStart {
				switch {
				case data[i] == '\n':
					return endHeader(br, buf, data[:i], 1, max)
				case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
					return endHeader(br, buf, data[:i], 2, max)
				case data[i] == '\r' && i+1 == len(data) && !crEOF:
					needMore = true // is it "\r\n"? The next byte says.
				}
				if needMore {
					break
				}
			}
			j := bytes.IndexByte(data[i:], '\n')
			if j < 0 {
				i, lineStart = len(data), false
				break
			}
			i += j + 1
			lineStart = true
		}
		buf = append(buf, data[:i]...)
		if _, err := br.Discard(i); err != nil {
			return buf, fmt.Errorf("correlate: reading header: %w", err)
		}
		if max >= 0 && int64(len(buf)) > max {
			return buf, ErrHeaderTooLarge
		}
		if needMore {
			if _, err := br.Peek(2); err == io.EOF {
				crEOF = true
			} else if err != nil {
				return buf, fmt.Errorf("correlate: reading header: %w", err)
			}
		}
	}
}

// endHeader ends the header at the blank line of n bytes that follows
// rest, the part of the last buffered bytes before it.
func endHeader(br *bufio.Reader, buf, rest []byte, n int, max int64) ([]byte, error) {
	buf = append(buf, rest...)
	if max >= 0 && int64(len(buf)+n) > max {
		return buf, ErrHeaderTooLarge
	}
	if len(buf) == 0 {
		return buf, ErrNoHeader // blank line before any field
	}
	if _, err := br.Discard(len(rest) + n); err != nil {
		return buf, fmt.Errorf("correlate: reading header: %w", err)
	}
	return buf, nil
}

// skipMboxLine reads past a leading mbox separator line ("From " and the
// rest of the line), if there is one; the line counts against max.
func skipMboxLine(br *bufio.Reader, max int64) error {
	if p, _ := br.Peek(5); string(p) != "From " {
		return nil
	}
	var n int64
	for {
		chunk, err := br.ReadSlice('\n')
		n += int64(len(chunk))
		if max >= 0 && n > max {
			return ErrHeaderTooLarge
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == nil, err == io.EOF:
			return nil
		}
		return fmt.Errorf("correlate: reading header: %w", err)
	}
}

// isMboxFromValue reports the value of an mbox separator line whose "From "
// some tool turned into "From:" ("list-admin@example.org  Fri Sep  6
// 11:34:24 2002"): an address, two spaces and an asctime date. Left in, it
// would read as a second From field.
//
// QUIRK: 1,110 files of the SpamAssassin ham corpus as stored by
// gatherstars-com/jwz carry such a line, first or after "Replied:" lines.
func isMboxFromValue(v string) bool {
	addr, date, ok := strings.Cut(v, "  ")
	if !ok || strings.ContainsAny(addr, " <>\"") || !strings.Contains(addr, "@") {
		return false
	}
	_, err := time.Parse("Mon Jan _2 15:04:05 2006", strings.TrimSpace(date))
	return err == nil
}

// isBlank reports whether line is empty but for its line break.
func isBlank(line []byte) bool {
	return len(line) == 0 || (len(line) == 1 && line[0] == '\n') || (len(line) == 2 && line[0] == '\r' && line[1] == '\n')
}
