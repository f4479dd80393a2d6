package guard

import (
	"context"
	"slices"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// ParticipantPolicy is the default [correlate.SenderPolicy]: it accepts m
// when one of its From addresses, or its Sender, took part in t (is among
// t.Participants), as osTicket requires for its subject fallback, and when
// m is outgoing (Direction Outgoing: the organization's own mail, which a
// colleague who never wrote on the conversation may send). It refuses an
// incoming message without a sender. It trusts the From field as written:
// a spoofed From passes unless the caller checks Authentication-Results
// first (iTop #97).
func ParticipantPolicy(_ context.Context, m *correlate.Message, t correlate.Tracked) bool {
	if m == nil {
		return false
	}
	if m.Direction == correlate.Outgoing {
		return true
	}
	for _, a := range m.From {
		if s := correlate.NormalizeAddress(a.Address); s != "" && slices.Contains(t.Participants, s) {
			return true
		}
	}
	if s := correlate.NormalizeAddress(m.Sender.Address); s != "" {
		return slices.Contains(t.Participants, s)
	}
	return false
}

// AnyOf returns a SenderPolicy that accepts when any of policies accepts,
// consulting them in order: ParticipantPolicy first, then the caller's hook
// ("the sender is a contact of the record's account"), so the hook runs only
// for the senders the participants do not cover. nil policies are skipped;
// with none left, every sender is refused.
func AnyOf(policies ...correlate.SenderPolicy) correlate.SenderPolicy {
	ps := slices.DeleteFunc(slices.Clone(policies), func(p correlate.SenderPolicy) bool { return p == nil })
	return func(ctx context.Context, m *correlate.Message, t correlate.Tracked) bool {
		for _, p := range ps {
			if p(ctx, m, t) {
				return true
			}
		}
		return false
	}
}
