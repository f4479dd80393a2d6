package imapsync

import (
	"errors"

	"github.com/emersion/go-sasl"
)

// xoauth2 is the SASL XOAUTH2 mechanism of Gmail and Microsoft 365
// (developers.google.com/gmail/imap/xoauth2-protocol): one initial response
// "user=" USER ^A "auth=Bearer " TOKEN ^A ^A. go-sasl dropped it in favour of
// OAUTHBEARER, which Microsoft does not offer for IMAP.
type xoauth2 struct {
	user, token string
	failed      []byte // the server's error challenge, for the error message
}

var _ sasl.Client = (*xoauth2)(nil)

// Start returns the mechanism and the initial response.
func (x *xoauth2) Start() (string, []byte, error) {
	ir := make([]byte, 0, len(x.user)+len(x.token)+20)
	ir = append(ir, "user="...)
	ir = append(ir, x.user...)
	ir = append(ir, "\x01auth=Bearer "...)
	ir = append(ir, x.token...)
	ir = append(ir, "\x01\x01"...)
	return "XOAUTH2", ir, nil
}

// Next answers a challenge. A server that refuses the token sends one
// challenge, a JSON error; the client must answer it with an empty
// response, after which the server ends the exchange with NO.
func (x *xoauth2) Next(challenge []byte) ([]byte, error) {
	if len(x.failed) > 0 {
		return nil, errors.New("imapsync: XOAUTH2: unexpected second challenge")
	}
	x.failed = append([]byte{}, challenge...)
	if len(x.failed) > 512 {
		x.failed = x.failed[:512]
	}
	return []byte{}, nil
}
