package header

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBuiltinIsForward(t *testing.T) {
	tests := []struct {
		subject string
		want    bool
		reason  string
	}{
		{"Fwd: Invoice", true, "English"},
		{"FW: Invoice", true, "Outlook, upper case"},
		{"WG: Rechnung", true, "German Weitergeleitet"},
		{"TR: Facture", true, "French Transfert"},
		{"RV: Factura", true, "Spanish Reenviado"},
		{"I: Fattura", true, "Italian Inoltro"},
		{"ENC: Fatura", true, "Portuguese Encaminhado"},
		{"转发：发票", true, "Chinese with a full-width colon"},
		{"Fwd[2]: Invoice", true, "with a counter"},
		{"Fw : Invoice", true, "space before the colon (RFC 5256 *WSP)"},
		{"[list] Fwd: Invoice", true, "after a list tag"},
		{"[Fwd: Invoice]", true, "RFC 5256 [fwd: …] wrapper"},
		{"Invoice (fwd)", true, "RFC 5256 (fwd) trailer"},
		{"Re: Fwd: Invoice", false, "a reply to a forward is a reply"},
		{"AW: WG: Rechnung", false, "the outermost prefix decides"},
		{"Invoice", false, "no prefix"},
		{"X440: timing", false, "a product tag is not a prefix"},
		{"Fwdx: Invoice", false, "not a known word"},
		{"VS: Lasku", false, "VS is Finnish for reply (Danish for forward): treated as a reply"},
		{"", false, "empty"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, builtinIsForward(tt.subject), "%q: %s", tt.subject, tt.reason)
	}
}

func TestEqualBase(t *testing.T) {
	tests := []struct {
		a, b   string
		want   bool
		reason string
	}{
		{"Printer broken", "Re: Printer broken", true, "reply prefix"},
		{"Printer broken", "[USRP-users] RE: AW: Re[3]: printer  broken", true, "tags, stacked localized prefixes, counters, case, spacing"},
		{"Printer broken", "回复：Printer broken", true, "Chinese prefix, full-width colon"},
		{"Printer broken", "Printer broken (fwd)", true, "trailer"},
		{"Printer broken", "Printer fixed", false, "different words"},
		{"Printer broken", "Printerbroken", false, "a space is not nothing"},
		{"X440: timing", "Re: X440: timing", true, "X440: is kept on both sides"},
		{"X440: timing", "timing", false, "X440: is not a prefix"},
		{"Über", "über", true, "case folding beyond ASCII"},
		{"", "Re:", true, "both empty after stripping"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, equalBase(tt.a, tt.b), "%q vs %q: %s", tt.a, tt.b, tt.reason)
	}
}

func TestStandInAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_ = builtinIsForward("[list] AW: Re[2]: WG: Rechnung")
		_ = equalBase("[list] AW: Re[2]: Rechnung", "rechnung")
	})
	assert.Zero(t, allocs, "the stand-ins run on every hit and must not allocate")
}

// FuzzSubjectStandIn checks the subject stand-ins on arbitrary subjects:
// no panic, bounded work, a base subject that is a substring of the
// input, and every subject equal to itself.
func FuzzSubjectStandIn(f *testing.F) {
	for _, s := range []string{"Re: x", "[l] Fwd[2]: x", "回复：x", "[Fwd: x]", "x (fwd)", "Re^3 : x", "[", "Re[", "Re(9", "[fwd:]", "：", "\xff:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			s = s[:4096]
		}
		_ = builtinIsForward(s)
		b := baseSubject(s)
		if !strings.Contains(s, b) {
			t.Fatalf("baseSubject(%q) = %q, not part of the input", s, b)
		}
		if !equalBase(s, s) {
			t.Fatalf("equalBase(%q, itself) = false", s)
		}
	})
}
