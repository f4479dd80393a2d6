package party_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/mailcorrelate/mailcorrelate/party"
)

func TestOrganization(t *testing.T) {
	tests := []struct {
		in     string
		org    string
		ok     bool
		reason string
	}{
		{"anna@contoso.com", "contoso.com", true, "a company domain is its organization"},
		{"Anna <anna@Mail.EU.Contoso.com>", "contoso.com", true, "subdomains belong to the registrable domain; case is folded"},
		{"bob@mail.contoso.co.uk", "contoso.co.uk", true, "co.uk is a public suffix: the organization is one label more"},
		{"jane@contoso.example", "contoso.example", true, "an unknown top-level domain counts as a public suffix (the list's default rule)"},
		{"@contoso.example", "contoso.example", true, "a domain entry"},
		{"contoso.example.", "contoso.example", true, "a bare domain, trailing dot dropped"},
		{"info@bücher.example", "xn--bcher-kva.example", true, "internationalized domains in ASCII form, as the directory keys them"},
		{"someone@gmail.com", "gmail.com", false, "Gmail users share nothing but the provider"},
		{"someone@GoogleMail.com", "googlemail.com", false, "freemail aliases too"},
		{"x@yahoo.co.uk", "yahoo.co.uk", false, "a country's freemail domain"},
		{"x@mx.comcast.net", "comcast.net", false, "an ISP's mailboxes are freemail too"},
		{"x@co.uk", "", false, "a public suffix alone names no organization"},
		{"root@localhost", "", false, "one label names no organization"},
		{"a@[192.0.2.1]", "", false, "an IP literal names no organization"},
		{"not an address", "", false, "unreadable"},
		{"", "", false, "empty"},
	}
	for _, tt := range tests {
		org, ok := party.Organization(tt.in)
		assert.Equal(t, tt.org, org, "%q: %s", tt.in, tt.reason)
		assert.Equal(t, tt.ok, ok, "%q: %s", tt.in, tt.reason)
	}
}
