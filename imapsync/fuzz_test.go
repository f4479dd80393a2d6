package imapsync

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzFolderNames feeds what a server says of its folders — names,
// delimiters, ids — to the code that matches them to rules and turns them
// into ids: it must never panic, ids stay bounded, and a name always
// matches itself.
func FuzzFolderNames(f *testing.F) {
	f.Add("INBOX/Clients/Contoso", "/", "Inbox/Clients/Contoso", "4b564216d4a4146bac43000083ecc375")
	f.Add("INBOX.Kunden.Contoso", ".", "Inbox/Kunden/Contoso", "")
	f.Add("Posteingang\\A", "\\", "Posteingang\\A", "F2212ea87-6097-4256-9d51-71338625")
	f.Add("", "", "", "")
	f.Add(strings.Repeat("a/", 3000), "/", strings.Repeat("a/", 3000), strings.Repeat("x", 5000))
	f.Fuzz(func(t *testing.T, name, delim, cfgPath, id string) {
		got := []string{name}
		if delim != "" {
			got = strings.Split(name, delim)
		}
		want := splitPath(cfgPath)
		samePath(want, got, true)
		samePath(want, got, false)
		if !samePath(got, got, true) {
			t.Fatalf("%q does not match itself", name)
		}
		for _, kind := range []string{idMailboxID, idXGUID, idName} {
			b := boundID(kind + id)
			if len(b) > maxIDBytes+len("sha256-")+64 {
				t.Fatalf("id of %d bytes", len(b))
			}
			if !strings.HasPrefix(b, kind) {
				t.Fatalf("id %q lost its kind %q", b, kind)
			}
		}
		s := sanitize(name)
		if len(s) > 300+len("…") || strings.ContainsAny(s, "\r\n\x00") || !utf8.ValidString(s) {
			t.Fatalf("sanitize(%q) = %q", name, s)
		}
	})
}
