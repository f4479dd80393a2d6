package cli

import (
	"strings"

	"github.com/mailcorrelate/mailcorrelate"
	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/guard"
	"github.com/mailcorrelate/mailcorrelate/party"
	"github.com/mailcorrelate/mailcorrelate/smartmatch"
)

// A Chain is how a command correlates: the settings its flags give
// mailcorrelate.New. The zero Chain is the library's default chain
// (smart matching off, no audit); [Flags.Chain] gives the commands'
// defaults (smart matching improved, audit on).
type Chain struct {
	// Preset chooses the default stages: "serversidesync" (the default,
	// mailcorrelate.ServerSideSync) or "emailrouter".
	Preset string
	// Strategies overrides the preset's stages, in precedence order.
	Strategies []mailcorrelate.Strategy
	// Smart selects smart matching: "off" (or ""), "dynamics" or
	// "improved". When it is on, the Smart stage ends the preset's stages;
	// when it is off, Smart is dropped from Strategies.
	Smart string
	// Audit consults every strategy after the winner and reports conflicts.
	Audit bool
	// Own are the organization's addresses ("@example.com" for a domain),
	// which say nothing about which conversation an email continues; when
	// empty, the domain of Mailbox (see [OwnAddresses]).
	Own []string
	// Mailbox is the synchronized mailbox's address, "" for none or many.
	Mailbox string
	// Folders are the folder-level tracking rules; nil for none.
	Folders *folder.Rules
	// Resolver, when set, is the address book: a sender at the same
	// customer account as a participant, whatever its domain, took part.
	Resolver *party.Resolver
}

// NewEngine builds the engine of c over st, the one way every command
// builds it. The sender policy is the default one (a participant, or a
// colleague at the same organization), or with a Resolver either that or a
// colleague the address book places at the same customer account.
func NewEngine(st correlate.Store, c Chain) (*correlate.Engine, error) {
	opts := &mailcorrelate.Options{Stages: c.Stages(), Audit: c.Audit, Folders: c.Folders}
	if c.Smart == "dynamics" {
		opts.Smart.Mode = smartmatch.Dynamics
	}
	if c.Resolver != nil {
		opts.Guard.SenderPolicy = guard.AnyOf(guard.NewParticipantPolicy(), c.Resolver.SenderPolicy())
	}
	opts.Smart.OwnAddresses = OwnAddresses(c.Own, c.Mailbox)
	return mailcorrelate.New(st, opts)
}

// Stages returns the stages of c, in precedence order.
func (c Chain) Stages() []mailcorrelate.Stage {
	smart := c.Smart != "" && c.Smart != "off"
	var out []mailcorrelate.Stage
	if len(c.Strategies) == 0 {
		out = mailcorrelate.ServerSideSync()
		if c.Preset == "emailrouter" {
			out = mailcorrelate.EmailRouter()
		}
		if smart {
			out = append(out, mailcorrelate.Smart)
		}
		return out
	}
	for _, s := range c.Strategies {
		if s != mailcorrelate.Smart || smart {
			out = append(out, s)
		}
	}
	return out
}

// OwnAddresses returns own, or when it is empty the domain of mailbox
// ("@fabrikam.example"): the mailbox's domain is the organization's own,
// and its people are neither new contacts nor a sign of which conversation
// an email continues. It returns nil when there is neither.
func OwnAddresses(own []string, mailbox string) []string {
	if len(own) > 0 {
		return own
	}
	if at := strings.LastIndexByte(mailbox, '@'); at >= 0 {
		return []string{mailbox[at:]}
	}
	return nil
}

// Place sets where m was read: the mailbox, the folder (its path, and its
// id: a file or a generated sample has no server id) and the direction —
// outgoing when the folder is a Sent folder (by its last name, see
// [SentFolderName]) or its sender is the mailbox itself, else incoming.
func Place(m *correlate.Message, mailbox, folderPath string) {
	m.Mailbox = mailbox
	m.FolderPath, m.FolderID = folderPath, folderPath
	m.Direction = correlate.Incoming
	if SentFolderName(folderPath[strings.LastIndexByte(folderPath, '/')+1:]) ||
		mailbox != "" && m.SenderAddress() == correlate.NormalizeAddress(mailbox) {
		m.Direction = correlate.Outgoing
	}
}

// SentFolderName reports whether a folder's name (not its path) is one of
// the usual names of a Sent folder, in any case: "Sent", "Sent Items",
// "Gesendete Elemente", "Éléments envoyés" ….
func SentFolderName(name string) bool {
	switch strings.ToLower(name) {
	case "sent", "sent items", "sent mail", "sent messages", "gesendete elemente", "gesendet", "éléments envoyés", "posta inviata", "itens enviados", "skickat", "enviados", "elementos enviados", "verzonden items":
		return true
	}
	return false
}
