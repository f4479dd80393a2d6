package samplegen

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// A LabelLine is one line of a seed or labels JSON Lines file, the replay
// command's format.
type LabelLine struct {
	MessageID string `json:"message_id"`
	Regarding string `json:"regarding"`
}

// WriteMaildir writes the sample's mail as a Maildir under dir: Inbox mail in
// dir/cur, each other folder "Inbox/X/Y" in dir/X/Y/cur.
func WriteMaildir(dir string, s Sample) error {
	for _, m := range s.Mails {
		sub := strings.TrimPrefix(strings.TrimPrefix(m.Folder, "Inbox"), "/")
		p := filepath.Join(dir, filepath.FromSlash(sub), "cur", m.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, m.Raw, 0o644); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(dir, "new"), 0o755)
}

// Seed returns the seed lines: the messages the CRM filed itself.
func (s Sample) Seed() []LabelLine {
	var out []LabelLine
	for _, m := range s.Mails {
		if m.Seed {
			out = append(out, LabelLine{MessageID: m.MessageID, Regarding: m.Regarding})
		}
	}
	return out
}

// Labels returns the truth for every message.
func (s Sample) Labels() []LabelLine {
	out := make([]LabelLine, len(s.Mails))
	for i, m := range s.Mails {
		out[i] = LabelLine{MessageID: m.MessageID, Regarding: m.Regarding}
	}
	return out
}

// WriteJSONLines writes lines to path, one JSON object per line.
func WriteJSONLines(path string, lines []LabelLine) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
