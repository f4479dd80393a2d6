package mailbox

import (
	"encoding/base64"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeUTF16Run decodes the base64 run of a modified UTF-7 "&…-" shift
// (',' stands for '/', no padding) as UTF-16BE text. It reports false for
// bad base64, an odd byte count, an unpaired surrogate or a character
// that needed no encoding (printable ASCII), which a modified UTF-7
// encoder never writes.
func decodeUTF16Run(enc string) (string, bool) {
	raw, err := base64.RawStdEncoding.DecodeString(strings.ReplaceAll(enc, ",", "/"))
	if err != nil || len(raw) == 0 || len(raw)%2 != 0 {
		return "", false
	}
	units := make([]uint16, len(raw)/2)
	for i := range units {
		units[i] = uint16(raw[2*i])<<8 | uint16(raw[2*i+1])
	}
	var b strings.Builder
	for i := 0; i < len(units); i++ {
		u := rune(units[i])
		switch {
		case utf16.IsSurrogate(u):
			if i+1 >= len(units) {
				return "", false
			}
			r := utf16.DecodeRune(u, rune(units[i+1]))
			if r == utf8.RuneError {
				return "", false
			}
			b.WriteRune(r)
			i++
		case u >= 0x20 && u <= 0x7e:
			return "", false
		default:
			b.WriteRune(u)
		}
	}
	return b.String(), true
}
