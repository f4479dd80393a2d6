package subject

// AutoReply reports whether s starts with an automatic-reply prefix such as
// "Out of Office:", "Automatic reply:", "Abwesenheitsnotiz:", "Réponse
// automatique :" or "自动回复：" (the table is [AutoReplyPrefixes] plus
// Options.ExtraAutoReplyPrefixes; case does not matter, a colon is required,
// and the reply-prefix separators of Base are accepted: spaces or a full-width
// colon). Leading white space and list tags ([blob]s) are skipped first, so
// "[ILUG] Out of Office: x" matches.
//
// prefix is the part of s up to and including the colon, so the rest of the
// subject is s[len(prefix):]. A subject can only be a hint: guardrails should
// combine it with the Auto-Submitted, X-Autoreply and Precedence headers.
// "Auto:" in particular also begins ordinary subjects about cars.
func (n *Normalizer) AutoReply(s string) (prefix string, ok bool) {
	if len(s) > n.maxLen {
		s = truncate(s, n.maxLen)
	}
	i := skipSpaces(s, 0)
	for i < len(s) && s[i] == '[' {
		_, end, ok := parseBlob(s, i, true)
		if !ok {
			break
		}
		i = skipSpaces(s, end)
	}
	m, ok := n.auto.match(s, i)
	if !ok {
		return "", false
	}
	return s[:m.end], true
}
