// Package folder implements folder-level tracking: a user drags an email
// into a folder under Inbox, and the email is filed under the record that
// folder is mapped to — Dynamics 365's "100% tracking accuracy" rule, on any
// device and any mail system that has folders.
//
// A [Mapping] maps one folder of one mailbox to a record, or to none (the
// folder only tracks, and the rest of the chain chooses the record). [Rules]
// is the set of mappings; the [Correlator] applies it as stage 0 of the
// default chain and indexes the email it tracks by folder, so that rule
// changes can re-link it.
//
// # The rules
//
// They follow Dynamics (reference/dynamics365-correlation.md §6):
//
//   - only folders under Inbox can be mapped ([Config.CheckPath]: "Inbox/…",
//     "INBOX.…", localized or differently cased Inbox names given in
//     [Config.InboxNames], '/', '.' or '\' separators); Inbox itself is
//     not a folder rule (its mail is tracked by the incoming email filter);
//   - at most 25 mappings per mailbox, configurable from 1 to 25
//     ([Config.MaxPerMailbox], Dynamics' maxfolderbasedtrackingmappings);
//   - no mappings for queue mailboxes ([Rules.SetQueue]);
//   - folders are identified by id, so a rename keeps the rule
//     ([Rules.SetPath]); a folder moved outside Inbox disables its rule, and
//     SetPath says so;
//   - a subfolder is not tracked unless it is mapped itself; several folders
//     may map to one record.
//
// Every rule operation fails with an [*Error] that names the mailbox and the
// folder, wrapping a sentinel (ErrOutsideInbox, ErrTooMany, ErrQueue …) for
// errors.Is.
//
// # Rule changes and the store
//
// Changing a rule changes tracked email through the store, as Dynamics does:
//
//   - [Rules.SetRecord] re-links every email tracked in the folder, old mail
//     included; clearing the record keeps existing links;
//   - [Rules.Move] re-files an email moved to another folder: a mapped folder
//     with a record re-links it, an unmapped one lets it keep its record;
//   - [Rules.Remove] keeps existing links; new mail is no longer tracked;
//   - [Rules.Apply] re-asserts folder records over manual relinks. Dynamics
//     does this at the next synchronization of the mailbox; this package
//     never writes behind the caller's back, so the caller calls Apply when
//     it synchronizes;
//   - the same email in two users' mapped folders with different records:
//     the first processed wins, and the folder stage's Match reports the other
//     rule as a conflict (Evidence with Field [FieldConflict]).
//
// The store is reached through small interfaces ([correlate.Lookuper], [Relinker],
// [Refiler]) that a correlate.Store and a *correlate.Engine satisfy. The
// folder index key is [Key]: kind "folder", value mailbox + "\x00" + folder
// id.
//
// # JSON
//
// Rules marshals to and from JSON; persisting it is the caller's choice, and
// the replay command's -folders flag reads the same format:
//
//	{
//	  "max_per_mailbox": 25,
//	  "inbox_names": ["Inbox", "Posteingang", "Boîte de réception"],
//	  "separators": "/.",
//	  "queues": ["support@fabrikam.example"],
//	  "mappings": [
//	    {"mailbox": "anna@fabrikam.example", "folder_id": "AAMkAGI2-contoso",
//	     "folder_path": "Inbox/Clients/Contoso", "record": "account:contoso"},
//	    {"mailbox": "anna@fabrikam.example", "folder_id": "AAMkAGI2-news",
//	     "folder_path": "Inbox/Newsletters"},
//	    {"mailbox": "ben@fabrikam.example", "folder_id": "INBOX.Kunden.Contoso",
//	     "folder_path": "INBOX.Kunden.Contoso", "record": "account:contoso"},
//	    {"mailbox": "ben@fabrikam.example", "folder_id": "AAMkAGI2-old",
//	     "folder_path": "Archive/Old", "record": "incident:CAS-7", "disabled": true}
//	  ]
//	}
//
// Every field may be omitted; an omitted field means its
// default (25 folders per mailbox, the Inbox name "Inbox", the separators
// '/', '.' and '\'). A mapping without "record" tracks without a record.
// "record" is "type:id" (correlate.ParseRecord). "disabled" marks a rule
// whose folder was moved outside Inbox; only such a rule may have a path
// outside Inbox. Unknown fields are errors, so a typo does not silently drop
// a rule.
//
// # Concurrency
//
// Rules and Correlator are safe for concurrent use; mappings may change
// while emails are correlated. Each operation is atomic on the rule set;
// the store writes that follow (SetRecord, Apply, Move) are not atomic with
// it, see each method.
package folder
