package correlate

import (
	"strconv"
	"strings"
)

// A Method says how an email was correlated. Values 0–7 are Dynamics 365's
// email correlationmethod option set, so they can be written to a Dataverse
// email row unchanged; FolderTracking is this library's own addition.
type Method int

// The Dynamics values of email_correlationmethod, and FolderTracking.
const (
	None              Method = 0 // not correlated
	Skipped           Method = 1 // Dynamics: correlation skipped (meaning unconfirmed)
	XHeader           Method = 2 // Dynamics: declared but unused
	InReplyTo         Method = 3 // In-Reply-To / References named a tracked email
	TrackingToken     Method = 4 // a tracking token in the subject
	ConversationIndex Method = 5 // Exchange Thread-Index / conversation index
	SmartMatching     Method = 6 // subject and participant similarity
	CustomCorrelation Method = 7 // a caller-supplied strategy
	// FolderTracking is a folder-level tracking rule. Dynamics has no
	// correlationmethod value for it (it stores None); the value 100 stays
	// clear of any future Dynamics value.
	FolderTracking Method = 100
)

var methodNames = [...]string{
	None:              "None",
	Skipped:           "Skipped",
	XHeader:           "XHeader",
	InReplyTo:         "InReplyTo",
	TrackingToken:     "TrackingToken",
	ConversationIndex: "ConversationIndex",
	SmartMatching:     "SmartMatching",
	CustomCorrelation: "CustomCorrelation",
}

// String returns the Dynamics option label ("InReplyTo"), "FolderTracking",
// or "Method(n)" for other values.
func (m Method) String() string {
	if m >= 0 && int(m) < len(methodNames) {
		return methodNames[m]
	}
	if m == FolderTracking {
		return "FolderTracking"
	}
	return "Method(" + strconv.Itoa(int(m)) + ")"
}

// DynamicsCode returns the value to store in a Dynamics correlationmethod
// column: m itself for 0–7, None for FolderTracking and unknown values.
func (m Method) DynamicsCode() int {
	if m >= 0 && m <= CustomCorrelation {
		return int(m)
	}
	return int(None)
}

// ParseMethod returns the Method named s (as printed by String, case
// insensitive), and false when s names none.
func ParseMethod(s string) (Method, bool) {
	for i, n := range methodNames {
		if strings.EqualFold(n, s) {
			return Method(i), true
		}
	}
	if strings.EqualFold("FolderTracking", s) {
		return FolderTracking, true
	}
	return None, false
}
