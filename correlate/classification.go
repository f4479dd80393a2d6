package correlate

// A Classification says what kind of email a message is, as a guard (see
// package guard) decided before correlation: mail written by a person, bulk
// mail, an auto-reply, a bounce, a loop. The zero Classification is an
// unclassified message, handled as mail written by a person.
//
// The class does not change which record a message is regarding; it changes
// what a caller does with it: the guard does not track some classes (by
// default auto-replies, bounces and loops), so they never become
// correlation targets, and no class but "normal" should be answered
// automatically (RFC 3834 §2).
type Classification struct {
	// Class names the kind of email: "" for mail written by a person (or
	// not classified), else one of package guard's classes: "bulk",
	// "autoreply", "bounce", "loop".
	Class string
	// Reason is a one-line explanation for people; its wording may change.
	Reason string
	// Evidence lists the header fields and body parts the verdict rests on.
	Evidence []Evidence
	// NoAutoResponse reports that the message must not be answered
	// automatically (no acknowledgement, no out-of-office notice): it is not
	// ordinary mail, or it asks so itself (X-Auto-Response-Suppress).
	NoAutoResponse bool
	// Original is the message a bounce returned, read from its
	// message/rfc822 or text/rfc822-headers part (headers only); nil when
	// the bounce carries none or its body was not kept. A guard correlates
	// it in place of the bounce, so the bounce lands on the record of the
	// message that failed.
	Original *Message
}

// Name returns c.Class, or "normal" for the empty class.
func (c Classification) Name() string {
	if c.Class == "" {
		return "normal"
	}
	return c.Class
}

// String returns "class: reason", or the class alone (see Name).
func (c Classification) String() string {
	if c.Reason == "" {
		return c.Name()
	}
	return c.Name() + ": " + c.Reason
}
