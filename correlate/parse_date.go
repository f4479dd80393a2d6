package correlate

import (
	"net/mail"
	"strings"
	"time"
)

// dateLayouts are formats seen in real mail that net/mail.ParseDate refuses.
var dateLayouts = [...]string{
	"Mon, 2 Jan 2006 15:04:05 -0700 (MST)",
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"2 Jan 2006 15:04:05 MST",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon, 2 Jan 2006 15:04:05",
	"2006-01-02 15:04:05 -0700",
	time.RFC3339,
}

// parseDate parses the value of a Date field: the usual form by fastDate,
// then net/mail.ParseDate, then the layouts of dateLayouts.
func parseDate(v string) (time.Time, error) {
	if t, ok := fastDate(v); ok {
		return t, nil
	}
	t, err := mail.ParseDate(v)
	if err == nil {
		return t, nil
	}
	s := strings.Join(strings.Fields(v), " ")
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	// "Thu, 22 Aug 2002 09:44:04 -0400 (EDT)" with odd comment spacing, or a
	// weekday with a trailing dot/comma, are the common failures.
	if i := strings.IndexByte(s, '('); i > 0 {
		if t, err2 := mail.ParseDate(strings.TrimSpace(s[:i])); err2 == nil {
			return t, nil
		}
	}
	for _, layout := range dateLayouts {
		if t, err2 := time.Parse(layout, s); err2 == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// fastDate reads the date form nearly all mail uses, "[Mon, ]2 Jan 2006
// 15:04[:05] -0700 [(comment)]", without net/mail's layout-by-layout
// attempts (which cost more than the rest of the header). Anything else
// reports ok=false and goes to net/mail.
func fastDate(s string) (time.Time, bool) {
	p := dateScanner{s: s}
	p.space()
	if len(p.s) >= 4 && p.s[3] == ',' { // day of week, not checked against the date
		p.s = p.s[4:]
		p.space()
	}
	day, ok := p.num(1, 2)
	if !ok || !p.space() {
		return time.Time{}, false
	}
	if len(p.s) < 3 {
		return time.Time{}, false
	}
	month := 0
	for i, name := range months {
		if strings.EqualFold(p.s[:3], name) {
			month = i + 1
			break
		}
	}
	p.s = p.s[3:]
	if month == 0 || !p.space() {
		return time.Time{}, false
	}
	year, ok := p.num(4, 4)
	if !ok || !p.space() {
		return time.Time{}, false
	}
	hour, ok1 := p.num(2, 2)
	ok2 := p.byte(':')
	minute, ok3 := p.num(2, 2)
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, false
	}
	sec := 0
	if p.byte(':') {
		if sec, ok = p.num(2, 2); !ok {
			return time.Time{}, false
		}
	}
	if !p.space() || len(p.s) < 5 || (p.s[0] != '+' && p.s[0] != '-') {
		return time.Time{}, false
	}
	sign := 1
	if p.s[0] == '-' {
		sign = -1
	}
	p.s = p.s[1:]
	zone, ok := p.num(4, 4)
	if !ok {
		return time.Time{}, false
	}
	p.space()
	if p.s != "" && p.s[0] != '(' { // only a trailing comment may follow
		return time.Time{}, false
	}
	if day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 || zone%100 > 59 {
		return time.Time{}, false
	}
	offset := sign * ((zone/100)*3600 + (zone%100)*60)
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.FixedZone("", offset))
	if t.Day() != day { // 31 Feb and friends
		return time.Time{}, false
	}
	return t, true
}

type dateScanner struct{ s string }

// space skips white space and reports whether there was any.
func (p *dateScanner) space() bool {
	n := 0
	for n < len(p.s) && (p.s[n] == ' ' || p.s[n] == '\t') {
		n++
	}
	p.s = p.s[n:]
	return n > 0
}

func (p *dateScanner) byte(c byte) bool {
	if len(p.s) > 0 && p.s[0] == c {
		p.s = p.s[1:]
		return true
	}
	return false
}

// num reads min to max decimal digits.
func (p *dateScanner) num(min, max int) (int, bool) {
	n, v := 0, 0
	for n < len(p.s) && n < max && '0' <= p.s[n] && p.s[n] <= '9' {
		v = v*10 + int(p.s[n]-'0')
		n++
	}
	if n < min {
		return 0, false
	}
	p.s = p.s[n:]
	return v, true
}
