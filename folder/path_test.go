package folder_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mailcorrelate/mailcorrelate/folder"
)

func TestCheckPath(t *testing.T) {
	localized := folder.Config{InboxNames: []string{"Inbox", "Posteingang", "Boîte de réception", "受信トレイ"}}
	tests := []struct {
		name   string
		cfg    folder.Config
		path   string
		want   error // nil, ErrBadPath or ErrOutsideInbox
		reason string
	}{
		{"slash", folder.Config{}, "Inbox/Clients/Contoso", nil,
			"the Exchange form: a folder two levels under Inbox"},
		{"one level", folder.Config{}, "Inbox/Clients", nil,
			"a direct child of Inbox is under Inbox"},
		{"imap upper case", folder.Config{}, "INBOX.Clients.Contoso", nil,
			"IMAP spells INBOX in capitals (RFC 3501: case-insensitive) and Courier/Cyrus use '.'"},
		{"lower case", folder.Config{}, "inbox/clients", nil,
			"Inbox names compare case-insensitively"},
		{"backslash", folder.Config{}, `Inbox\Clients`, nil,
			"Outlook shows folder paths with backslashes"},
		{"leading separator", folder.Config{}, "/Inbox/Clients", nil,
			"one leading separator (an absolute path) is allowed"},
		{"dot in name with slash separator", folder.Config{}, "Inbox/Mr. Smith..", nil,
			"the first separator in the path is the separator; later dots are part of the name"},
		{"slash in name with dot separator", folder.Config{}, "INBOX.Kunden/Lieferanten", nil,
			"with '.' as delimiter a '/' may be part of an IMAP folder name"},
		{"localized", localized, "Posteingang/Kunden", nil,
			"a German Outlook names Inbox Posteingang; the caller lists it"},
		{"localized upper", localized, "BOÎTE DE RÉCEPTION/Clients", nil,
			"case-insensitive comparison covers non-ASCII letters"},
		{"localized nfd", localized, "Boi\u0302te de re\u0301ception/Clients", nil,
			"a decomposed (NFD) name from macOS matches its composed form"},
		{"japanese", localized, "受信トレイ/顧客", nil,
			"non-Latin Inbox names and folder names are fine"},
		{"localized not configured", folder.Config{}, "Posteingang/Kunden", folder.ErrOutsideInbox,
			"without the localized name, Posteingang is just a top-level folder"},
		{"inbox itself", folder.Config{}, "Inbox", folder.ErrOutsideInbox,
			"Inbox itself is not a folder under Inbox; its mail is tracked by the incoming filter"},
		{"inbox itself with slash", folder.Config{}, "/INBOX", folder.ErrOutsideInbox,
			"a leading separator does not make Inbox a subfolder"},
		{"sent items", folder.Config{}, "Sent Items/Contoso", folder.ErrOutsideInbox,
			"Dynamics: other folder emails cannot be tracked"},
		{"top level", folder.Config{}, "Clients", folder.ErrOutsideInbox,
			"a top-level folder is not under Inbox"},
		{"inbox as subfolder", folder.Config{}, "Archive/Inbox/Clients", folder.ErrOutsideInbox,
			"only the first segment counts: an archived Inbox is outside Inbox"},
		{"inbox prefix", folder.Config{}, "Inboxes/Clients", folder.ErrOutsideInbox,
			"the first segment must equal an Inbox name, not start with one"},
		{"only slash separator", folder.Config{Separators: "/"}, "Inbox.old", folder.ErrOutsideInbox,
			"with '/' as the only separator, Inbox.old is a top-level folder name"},
		{"empty", folder.Config{}, "", folder.ErrBadPath, "no folder has an empty path"},
		{"only separator", folder.Config{}, "/", folder.ErrBadPath, "a lone separator names nothing"},
		{"empty segment", folder.Config{}, "Inbox//Clients", folder.ErrBadPath,
			"folder names are never empty"},
		{"trailing separator", folder.Config{}, "Inbox/Clients/", folder.ErrBadPath,
			"a trailing separator leaves an empty last segment"},
		{"dot dot", folder.Config{}, "Inbox/../Sent Items", folder.ErrBadPath,
			"'..' would climb out of Inbox"},
		{"dot", folder.Config{}, "Inbox/./Clients", folder.ErrBadPath,
			"'.' is not a folder name"},
		{"dot separator dot dot", folder.Config{}, "INBOX...", folder.ErrBadPath,
			"with '.' as separator, dots leave empty segments"},
		{"nul", folder.Config{}, "Inbox/Cli\x00ents", folder.ErrBadPath, "control characters are hostile"},
		{"newline", folder.Config{}, "Inbox/Clients\nSent", folder.ErrBadPath, "a newline could forge log lines"},
		{"c1 control", folder.Config{}, "Inbox/Cli\u0085ents", folder.ErrBadPath, "C1 controls are control characters too"},
		{"bidi override", folder.Config{}, "Inbox/\u202etxt.exe", folder.ErrBadPath,
			"a right-to-left override makes a path display as another"},
		{"invalid utf8", folder.Config{}, "Inbox/\xff\xfe", folder.ErrBadPath, "paths are text"},
		{"too long", folder.Config{}, "Inbox/" + strings.Repeat("a", folder.MaxPathBytes), folder.ErrBadPath,
			"paths are bounded so hostile input cannot cost unbounded work"},
		{"long but fine", folder.Config{}, "Inbox/" + strings.Repeat("a/", 1000) + "b", nil,
			"deep paths within the bound are accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.CheckPath(tt.path)
			if tt.want == nil {
				assert.NoError(t, err, "CheckPath(%q): %s", tt.path, tt.reason)
				return
			}
			assert.ErrorIs(t, err, tt.want, "CheckPath(%q): %s", tt.path, tt.reason)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		cfg    folder.Config
		ok     bool
		reason string
	}{
		{"zero", folder.Config{}, true, "the zero Config means the defaults"},
		{"max 25", folder.Config{MaxPerMailbox: 25}, true, "25 is Dynamics' maximum"},
		{"max 1", folder.Config{MaxPerMailbox: 1}, true, "1 is Dynamics' minimum"},
		{"max 26", folder.Config{MaxPerMailbox: 26}, false, "maxfolderbasedtrackingmappings has MaxValue 25"},
		{"max negative", folder.Config{MaxPerMailbox: -1}, false, "a negative limit means nothing"},
		{"inbox name with separator", folder.Config{InboxNames: []string{"In/box"}}, false,
			"a name containing a separator could never match one segment"},
		{"empty inbox name", folder.Config{InboxNames: []string{""}}, false, "an empty name matches nothing"},
		{"padded inbox name", folder.Config{InboxNames: []string{" Inbox"}}, false, "surrounding space is a typo"},
		{"separator letter", folder.Config{Separators: "x"}, false, "letters are part of names"},
		{"separator non-ascii", folder.Config{Separators: "·"}, false, "separators are single ASCII bytes"},
		{"separator pipe", folder.Config{Separators: "|"}, true, "any ASCII punctuation can be a delimiter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.ok {
				assert.NoError(t, err, tt.reason)
				return
			}
			assert.ErrorIs(t, err, folder.ErrBadConfig, tt.reason)
			_, err = folder.NewRules(&tt.cfg)
			assert.ErrorIs(t, err, folder.ErrBadConfig, "NewRules validates too")
		})
	}
}

// refSplit is an independent, obviously correct reading of a path: it is
// the oracle FuzzFolderPath checks CheckPath against.
func refCheck(cfg folder.Config, path string) (under bool, bad bool) {
	seps := cfg.Separators
	if seps == "" {
		seps = folder.DefaultSeparators
	}
	if path == "" || len(path) > folder.MaxPathBytes || !utf8.ValidString(path) {
		return false, true
	}
	for _, r := range path {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return false, true
		}
	}
	if strings.ContainsRune(seps, rune(path[0])) {
		path = path[1:]
		if path == "" {
			return false, true
		}
	}
	i := strings.IndexAny(path, seps)
	if i < 0 {
		return false, false
	}
	for _, seg := range strings.Split(path, path[i:i+1]) {
		if seg == "" || seg == "." || seg == ".." {
			return false, true
		}
	}
	names := cfg.InboxNames
	if len(names) == 0 {
		names = []string{folder.DefaultInboxName}
	}
	first := path[:i]
	for _, n := range names {
		if strings.EqualFold(first, n) {
			return true, false
		}
	}
	return false, false
}

// FuzzFolderPath checks that CheckPath never panics on hostile folder names
// (empty segments, "..", control characters, very long paths) and agrees
// with the reference reading for ASCII Inbox names.
func FuzzFolderPath(f *testing.F) {
	for _, s := range []string{
		"Inbox/Clients/Contoso", "INBOX.Clients", `Inbox\a\b`, "/Inbox/x", "Inbox", "Inbox//x",
		"Inbox/../Sent", "Inbox/./x", "INBOX...", "Inbox/\x00", "Inbox/\u202e", "\xff", "",
		"/", ".", "..", "Sent Items/x", "Inbox/" + strings.Repeat("x/", 300) + "y",
		"Posteingang/Kunden", "inbox/Mr. Smith..", "受信トレイ/顧客",
	} {
		f.Add(s, "")
		f.Add(s, "/")
	}
	f.Fuzz(func(t *testing.T, path, seps string) {
		cfg := folder.Config{Separators: seps}
		if cfg.Validate() != nil {
			cfg.Separators = ""
		}
		err := cfg.CheckPath(path)
		under, bad := refCheck(cfg, path)
		switch {
		case under:
			require.NoError(t, err, "CheckPath(%q, seps %q)", path, cfg.Separators)
		case bad:
			require.ErrorIs(t, err, folder.ErrBadPath, "CheckPath(%q, seps %q)", path, cfg.Separators)
		default:
			require.ErrorIs(t, err, folder.ErrOutsideInbox, "CheckPath(%q, seps %q)", path, cfg.Separators)
		}
		if err == nil {
			// Properties of an accepted path: climbing out is refused, and
			// a deeper folder is still under Inbox.
			sep := cfg.Separators
			if sep == "" {
				sep = folder.DefaultSeparators
			}
			rest := strings.TrimLeft(path[:1], sep) + path[1:]
			s := rest[strings.IndexAny(rest, sep)]
			require.ErrorIs(t, cfg.CheckPath(path+string(s)+".."), folder.ErrBadPath)
			if len(path)+2 <= folder.MaxPathBytes {
				require.NoError(t, cfg.CheckPath(path+string(s)+"x"))
			}
		}
		// Errors quote the path safely: no raw control characters.
		if err != nil {
			require.False(t, strings.ContainsAny(err.Error(), "\x00\n\r"), "error %q", err)
		}
	})
}
