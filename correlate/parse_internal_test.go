package correlate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// readHeaderLines is the line-by-line reading readHeaderBlock replaced,
// kept as the reference it must agree with.
func readHeaderLines(br *bufio.Reader, max int64) (string, error) {
	var buf []byte
	for lineNo := 0; ; lineNo++ {
		start := len(buf)
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			buf = append(buf, chunk...)
			if max >= 0 && int64(len(buf)) > max {
				return "", ErrHeaderTooLarge
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		line := buf[start:]
		switch {
		case lineNo == 0 && bytes.HasPrefix(line, []byte("From ")):
			buf = buf[:start]
		case isBlank(line) && len(line) > 0:
			buf = buf[:start]
			if start == 0 {
				return "", ErrNoHeader
			}
			return string(buf), nil
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	if len(buf) == 0 {
		return "", ErrNoHeader
	}
	return string(buf), nil
}

// FuzzReadHeaderBlock checks that the bulk reading of the header returns
// what line-by-line reading returns, and leaves the reader at the same
// place (the start of the body), however the input arrives.
func FuzzReadHeaderBlock(f *testing.F) {
	for _, s := range []string{
		"From: a@x\r\nSubject: s\r\n\r\nbody",
		"From a@x Thu Aug 22 14:44:07 2002\nFrom: a@x\n\nbody",
		"From a@x Thu Aug 22 14:44:07 2002\n\nbody",
		"\r\nFrom: a@x\r\n",
		"From: a@x\nSubject: no final newline",
		"From: a@x\r",
		"From: a@x\n\r",
		"From: a@x\n\rX: y\n\n",
		"X: " + strings.Repeat("y", 9000) + "\n\nb",
		"From " + strings.Repeat("z", 9000) + "\nX: y\n\n",
		"",
		"From",
	} {
		f.Add([]byte(s), int64(-1), uint8(0))
		f.Add([]byte(s), int64(40), uint8(1))
	}
	f.Fuzz(checkReadHeaderBlock)
}

// TestReadHeaderBlockRandom runs the comparison of FuzzReadHeaderBlock on
// random inputs made of the bytes that matter (line ends, "From ", colons),
// every way of delivering them and bounds around their size.
func TestReadHeaderBlockRandom(t *testing.T) {
	alpha := []byte("From:\r\n x")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		raw := make([]byte, rng.IntN(48))
		for i := range raw {
			raw[i] = alpha[rng.IntN(len(alpha))]
		}
		if rng.IntN(3) == 0 {
			raw = append([]byte("From "), raw...)
		}
		checkReadHeaderBlock(t, raw, int64(rng.IntN(60))-1, uint8(rng.IntN(3)))
	}
}

func checkReadHeaderBlock(t *testing.T, raw []byte, max int64, mode uint8) {
	{
		if max < -1 {
			max = -1
		}
		reader := func() io.Reader {
			switch mode % 3 {
			case 1:
				return iotest.OneByteReader(bytes.NewReader(raw))
			case 2:
				return iotest.HalfReader(bytes.NewReader(raw))
			}
			return bytes.NewReader(raw)
		}
		b1 := bufio.NewReaderSize(reader(), 16)
		b2 := bufio.NewReaderSize(reader(), 16)
		gotb, gotErr := readHeaderBlock(b1, max, nil)
		got := string(gotb)
		if gotErr != nil {
			got = "" // the buffer, returned for reuse, is not the header
		}
		want, wantErr := readHeaderLines(b2, max)
		if got != want || !errors.Is(gotErr, wantErr) && fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("readHeaderBlock(%q, %d) = %q, %v; want %q, %v", raw, max, got, gotErr, want, wantErr)
		}
		if gotErr == nil {
			rest1, _ := io.ReadAll(b1)
			rest2, _ := io.ReadAll(b2)
			if !bytes.Equal(rest1, rest2) {
				t.Fatalf("body after the header %q, want %q", rest1, rest2)
			}
		}
	}
}

// parseMessageIDsRef is the scanning ParseMessageIDs replaced, kept as the
// reference it must agree with.
func parseMessageIDsRef(s string, max int) ([]string, error) {
	var ids []string
	var problems []string
	add := func(raw string) {
		id := normalizeID(raw)
		switch {
		case id == "":
			problems = append(problems, "empty id <>")
			return
		case len(id) > maxIDLen:
			problems = append(problems, "id longer than 998 bytes")
			return
		}
		ids = append(ids, id)
	}
	bracketed := false
	for i := 0; i < len(s); {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			break
		}
		start := i + lt + 1
		end := start
		for end < len(s) && s[end] != '>' && s[end] != '<' {
			end++
		}
		if end >= len(s) {
			problems = append(problems, "unterminated <")
			break
		}
		if s[end] == '<' { // "<junk <id>": restart at the inner bracket
			i = end
			continue
		}
		bracketed = true
		add(s[start:end])
		i = end + 1
	}
	if !bracketed {
		for _, w := range strings.FieldsFunc(s, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == ','
		}) {
			w = strings.Trim(w, "<>()\"';")
			if strings.Contains(w, "@") {
				add(w)
			}
		}
		if len(ids) == 0 && strings.TrimSpace(s) != "" {
			problems = append(problems, "no message id found")
		}
	}
	ids = dedupe(ids)
	if max > 0 && len(ids) > max {
		ids = ids[len(ids)-max:]
	}
	if len(problems) > 0 {
		return ids, &idListError{Problems: problems}
	}
	return ids, nil
}

// FuzzParseMessageIDs checks ParseMessageIDs against the byte-by-byte
// scanning it replaced.
func FuzzParseMessageIDs(f *testing.F) {
	for _, s := range []string{"<a@b>", "<a@b><c@d>", "<a@b> <a@b>", "x <a <b@c>", "<a", "a@b, c@d", "<>", "<a@b", "<<a@b>>", "Your message of <a@b>"} {
		f.Add(s, 0)
		f.Add(s, 1)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		got, gotErr := ParseMessageIDs(s, max)
		want, wantErr := parseMessageIDsRef(s, max)
		if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("ParseMessageIDs(%q, %d) = %q, %v; want %q, %v", s, max, got, gotErr, want, wantErr)
		}
	})
}

// TestParseMessageIDsRandom runs the comparison of FuzzParseMessageIDs on
// random fields made of the bytes that matter.
func TestParseMessageIDsRandom(t *testing.T) {
	pieces := []string{"<", ">", "a@b", "c@d", " ", ",", "x", "@", "\r\n "}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 50000 {
		var sb strings.Builder
		for range rng.IntN(8) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s, max := sb.String(), rng.IntN(4)-1
		got, gotErr := ParseMessageIDs(s, max)
		want, wantErr := parseMessageIDsRef(s, max)
		if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("ParseMessageIDs(%q, %d) = %q, %v; want %q, %v", s, max, got, gotErr, want, wantErr)
		}
	}
}
