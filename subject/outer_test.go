package subject_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mailcorrelate/mailcorrelate/subject"
)

// TestIsForward: Dynamics' DoNotCorrelateForwardedEmailsAsReplies needs to
// tell a forward from a reply; the outermost decoration decides.
func TestIsForward(t *testing.T) {
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
		{"VS: Lasku", true, "VS is Danish for forward (Finnish for reply): the table classes it as forward, see doc.go"},
		{"", false, "empty"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, subject.IsForward(tt.subject), "%q: %s", tt.subject, tt.reason)
	}
}

// TestKeyEquality: two subjects name the same matter when their keys are
// equal (Match.SubjectChanged is the opposite).
func TestKeyEquality(t *testing.T) {
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
		assert.Equal(t, tt.want, subject.Key(tt.a) == subject.Key(tt.b), "%q vs %q: %s", tt.a, tt.b, tt.reason)
	}
}
