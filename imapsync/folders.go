// Resolving the folders of a pass: Sent Items, and the folders that
// tracking rules name, by id and by path.

package imapsync

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/store"
)

// resolve finds the folders of the pass: Inbox, Sent when tracked, and the
// folder of every rule, binding rules to folder ids and following renames.
func (p *passRun) resolve(ctx context.Context, curs map[string]cursor) error {
	fs, err := p.ic.status("INBOX")
	if err != nil {
		if errors.Is(err, errNoFolder) {
			return permanent(CauseFolderGone, fmt.Errorf("the Inbox cannot be read: %w", err))
		}
		return err
	}
	p.addFolder(roleInbox, p.prefix+roleInbox, nil, curs, fs)
	if p.mb.cfg.Sent {
		if err := p.resolveSent(curs); err != nil {
			return err
		}
	}
	for i := range p.mb.rules {
		if err := p.resolveRule(ctx, &p.mb.rules[i], curs); err != nil {
			return err
		}
	}
	// Bindings, renames and UIDVALIDITY resets are written at once, so a
	// rename before the next message does not lose the rule.
	var b store.Batch
	for _, f := range p.folders {
		if f.dirty() && f.done.UID == f.cur.UID {
			b.States = append(b.States, f.state())
		}
	}
	if len(b.States) > 0 {
		b.Lease = p.mb.currentLease()
		if _, err := p.s.st.Apply(ctx, b); err != nil {
			return storeErr(err)
		}
		for _, f := range p.folders {
			if f.dirty() && f.done.UID == f.cur.UID {
				f.cur = f.done
			}
		}
	}
	return nil
}

// addFolder adds a folder to read with its stored cursor, resetting the
// cursor when the folder is another one now (a new id, or a new
// UIDVALIDITY: the folder was recreated; its mail is read again,
// deduplicated by Message-ID).
func (p *passRun) addFolder(role, key string, rule *folder.Mapping, curs map[string]cursor, fs folderStatus) *folderRun {
	cur, had := curs[key]
	f := &folderRun{role: role, key: key, rule: rule, cur: cur, fs: fs}
	f.done = cur
	if had && cur.UIDValidity != 0 && (cur.UIDValidity != fs.uidValidity || (cur.ID != "" && cur.ID != fs.id && role != roleRule)) {
		p.notice("folder %q was recreated (UIDVALIDITY %d → %d): its mail is read again, without duplicates",
			fs.name, cur.UIDValidity, fs.uidValidity)
		f.done.UID = 0
	}
	f.done.ID, f.done.Path, f.done.UIDValidity, f.done.ModSeq = fs.id, fs.name, fs.uidValidity, fs.modSeq
	f.done.Disabled = ""
	f.initial = f.done.UID == 0
	path, uv := f.done.Path, f.done.UIDValidity
	f.fetch = func(uids []uint32) ([]fetched, error) { return p.fetchBatch(path, uv, uids) }
	f.body = func(m *fetched, max int64) ([]byte, error) {
		p.connMu.Lock()
		defer p.connMu.Unlock()
		if err := p.ic.examine(f.done.Path, f.done.UIDValidity); err != nil {
			return nil, p.folderErr(f, err)
		}
		return p.ic.fetchText(m.uid, max)
	}
	p.folders = append(p.folders, f)
	return f
}

// listFolders runs LIST once per pass.
func (p *passRun) listFolders() ([]folderInfo, error) {
	if p.list == nil {
		l, err := p.ic.list()
		if err != nil {
			return nil, err
		}
		if l == nil {
			l = []folderInfo{}
		}
		p.list = l
	}
	return p.list, nil
}

// findID looks for the folder with a server id, by STATUS of every listed
// folder (once per pass): how a renamed folder is found.
func (p *passRun) findID(id string) (folderStatus, bool, error) {
	if p.byID == nil {
		l, err := p.listFolders()
		if err != nil {
			return folderStatus{}, false, err
		}
		p.byID = map[string]folderStatus{}
		for _, fi := range l {
			fs, err := p.ic.status(fi.name)
			if errors.Is(err, errNoFolder) {
				continue
			}
			if err != nil {
				return folderStatus{}, false, err
			}
			p.byID[fs.id] = fs
		}
	}
	fs, ok := p.byID[id]
	return fs, ok, nil
}

var sentNames = []string{"sent", "sent items", "sent messages", "sent mail", "gesendete elemente", "éléments envoyés"}

func (p *passRun) resolveSent(curs map[string]cursor) error {
	key := p.prefix + roleSent
	if cur, ok := curs[key]; ok && cur.Path != "" {
		fs, err := p.ic.status(cur.Path)
		if err == nil && (cur.ID == "" || fs.id == cur.ID || !strings.HasPrefix(cur.ID, idName)) {
			p.addFolder(roleSent, key, nil, curs, fs)
			return nil
		}
		if err != nil && !errors.Is(err, errNoFolder) {
			return err
		}
	}
	l, err := p.listFolders()
	if err != nil {
		return err
	}
	name := ""
	for _, f := range l {
		if f.has(`\Sent`) {
			name = f.name
			break
		}
	}
	if name == "" {
		for _, f := range l {
			last := f.name
			if f.delim != "" {
				last = last[strings.LastIndex(last, f.delim)+len(f.delim):]
			}
			for _, n := range sentNames {
				if strings.EqualFold(last, n) && name == "" {
					name = f.name
				}
			}
		}
	}
	if name == "" {
		p.notice("no Sent folder (SPECIAL-USE \\Sent, or one named Sent): sent mail is not tracked")
		return nil
	}
	fs, err := p.ic.status(name)
	if err != nil {
		if errors.Is(err, errNoFolder) {
			return nil
		}
		return err
	}
	p.addFolder(roleSent, key, nil, curs, fs)
	return nil
}

// resolveRule finds the folder of a rule: the one it is bound to (by id,
// wherever it is now: a rename keeps the rule), else, at first sight, the
// folder at the rule's path, to which it binds.
func (p *passRun) resolveRule(ctx context.Context, rule *folder.Mapping, curs map[string]cursor) error {
	key := p.prefix + roleRule + "/" + boundID(rule.FolderPath)
	cur, had := curs[key]
	rules := p.s.rules
	addr := p.mb.addr
	if had && cur.ID != "" {
		fs, err := p.ic.status(cur.Path)
		if err != nil && !errors.Is(err, errNoFolder) {
			return err
		}
		found := err == nil && fs.id == cur.ID
		if !found {
			var ok bool
			if fs, ok, err = p.findID(cur.ID); err != nil {
				return err
			}
			found = ok
		}
		if found {
			if fs.name != cur.Path {
				p.notice("tracked folder %q was renamed to %q: its rule follows it", cur.Path, fs.name)
			}
			return p.bind(rule, key, curs, fs)
		}
		// The folder is gone. Recreated under the rule's path, the rule
		// binds to the new folder (its mail is read again, deduplicated);
		// else the rule is disabled until a folder appears there.
		rules.Remove(addr, cur.ID)
		if fs, ok, err := p.findPath(rule.FolderPath); err != nil {
			return err
		} else if ok {
			p.notice("tracked folder %q was deleted and created again: the rule binds to the new folder and reads its mail again, without duplicates", fs.name)
			return p.bind(rule, key, curs, fs)
		}
		if cur.Disabled == "" {
			p.notice("tracked folder %q was deleted: its rule (%s) is disabled", cur.Path, ruleTarget(rule))
		}
		f := &folderRun{role: roleRule, key: key, rule: rule, cur: cur, done: cur}
		f.done.Disabled = "folder deleted"
		p.folders = append(p.folders, f)
		return nil
	}
	// First sight: bind by id when the rule names one the server has,
	// else by path.
	fs, ok := folderStatus{}, false
	var err error
	if rule.FolderID != "" && rule.FolderID != rule.FolderPath {
		if fs, ok, err = p.findID(rule.FolderID); err != nil {
			return err
		}
	}
	if !ok {
		if fs, ok, err = p.findPath(rule.FolderPath); err != nil {
			return err
		}
	}
	if !ok {
		p.notice("tracked folder %q not found on the server: its rule waits for it", rule.FolderPath)
		return nil
	}
	return p.bind(rule, key, curs, fs)
}

func ruleTarget(rule *folder.Mapping) string {
	if rule.Record.IsZero() {
		return "track only"
	}
	return "→ " + rule.Record.String()
}

// findPath finds the folder whose name is path, compared segment by
// segment with the server's delimiter (Inbox in any case).
func (p *passRun) findPath(path string) (folderStatus, bool, error) {
	l, err := p.listFolders()
	if err != nil {
		return folderStatus{}, false, err
	}
	want := splitPath(path)
	var match string
	for _, f := range l {
		got := []string{f.name}
		if f.delim != "" {
			got = strings.Split(f.name, f.delim)
		}
		if samePath(want, got, true) {
			match = f.name
			break
		}
		if match == "" && samePath(want, got, false) {
			match = f.name
		}
	}
	if match == "" {
		return folderStatus{}, false, nil
	}
	fs, err := p.ic.status(match)
	if errors.Is(err, errNoFolder) {
		return folderStatus{}, false, nil
	}
	return fs, err == nil, err
}

// splitPath splits a configured path at the first of '/', '.', '\' in it.
func splitPath(path string) []string {
	path = strings.TrimLeft(path, `/.\`)
	if i := strings.IndexAny(path, `/.\`); i >= 0 {
		return strings.Split(path, path[i:i+1])
	}
	return []string{path}
}

// samePath compares paths by segment: the first case-insensitively (Inbox
// is "INBOX" in IMAP), the others exactly, or case-insensitively when
// exact is false.
func samePath(a, b []string, exact bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if i == 0 || !exact {
			if !strings.EqualFold(a[i], b[i]) {
				return false
			}
		} else if a[i] != b[i] {
			return false
		}
	}
	return true
}

// bind makes the rule apply to the folder fs: the folder package's rule is
// added (or its path updated after a rename), and the folder joins the
// pass.
func (p *passRun) bind(rule *folder.Mapping, key string, curs map[string]cursor, fs folderStatus) error {
	rules := p.s.rules
	addr := p.mb.addr
	f := p.addFolder(roleRule, key, rule, curs, fs)
	if cur := curs[key]; cur.ID != "" && cur.ID != fs.id {
		f.done.UID = 0 // another folder: read it all
		f.initial = true
	}
	mp, ok := rules.Mapping(addr, fs.id)
	switch {
	case !ok:
		nm := *rule
		nm.Mailbox, nm.FolderID, nm.FolderPath = addr, fs.id, fs.name
		if err := rules.Add(nm); err != nil {
			if errors.Is(err, folder.ErrOutsideInbox) {
				f.done.Disabled = "folder outside Inbox"
				p.notice("tracked folder %q is outside Inbox: its rule is disabled", fs.name)
				return nil
			}
			return permanent(CauseConfig, fmt.Errorf("folder rule %q: %w", rule.FolderPath, err))
		}
	case mp.FolderPath != fs.name:
		if err := rules.SetPath(addr, fs.id, fs.name); err != nil {
			f.done.Disabled = "folder moved outside Inbox"
			p.notice("tracked folder moved to %q, outside Inbox: its rule is disabled", fs.name)
			return nil
		}
	}
	return nil
}
