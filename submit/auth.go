package submit

import (
	"bufio"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// ErrBadCredentials is wrapped by an Authenticator's error for an unknown
// user or a wrong password; the client is told only that authentication
// failed.
var ErrBadCredentials = errors.New("submit: bad credentials")

// A User is a CRM user the relay accepts mail from.
type User struct {
	// Name is the name the user authenticates with.
	Name string
	// TokenUser is the user's ordinal for tracking tokens (1 for the
	// first user: token.Generator.Next); 0 means the user's mail gets no
	// token.
	TokenUser int64
	// Senders are the envelope senders (MAIL FROM) the user may use:
	// addresses, or "@domain" for a whole domain, compared without regard
	// to case. Empty means any: the upstream server's own checks apply.
	Senders []string
}

// MaySend reports whether u may use the envelope sender from.
func (u *User) MaySend(from string) bool {
	if len(u.Senders) == 0 {
		return true
	}
	from = correlate.NormalizeAddress(from)
	at := strings.LastIndexByte(from, '@')
	for _, s := range u.Senders {
		s = correlate.NormalizeAddress(s)
		if s == from || (strings.HasPrefix(s, "@") && at >= 0 && s == from[at:]) {
			return true
		}
	}
	return false
}

// An Authenticator checks the credentials a client gives with AUTH PLAIN.
// It returns the user, or an error wrapping ErrBadCredentials when they are
// wrong; any other error is taken as temporary (the client may try again).
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (User, error)
}

// Users is an Authenticator over a fixed table of users with hashed
// passwords (see HashPassword). The zero Users accepts nobody.
type Users struct {
	users map[string]userEntry
	// dummy is checked against for an unknown user, so that the time
	// taken does not tell unknown users from wrong passwords: it has the
	// most iterations of any user's hash.
	dummy passwordHash
}

type userEntry struct {
	user User
	hash passwordHash
}

// PBKDF2 parameters of HashPassword.
const (
	// DefaultIterations is the PBKDF2-HMAC-SHA256 iteration count of
	// HashPassword: OWASP's 2023 recommendation.
	DefaultIterations = 600_000
	hashPrefix        = "pbkdf2-sha256"
	saltLen           = 16
	keyLen            = 32
)

// HashPassword returns the stored form of password: PBKDF2-HMAC-SHA256 with
// a random 16-byte salt and iterations rounds (0 means DefaultIterations),
// written "pbkdf2-sha256$ITERATIONS$SALT$HASH" with SALT and HASH in
// unpadded base64.
func HashPassword(password string, iterations int) (string, error) {
	if iterations <= 0 {
		iterations = DefaultIterations
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("submit: hash password: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, keyLen)
	if err != nil {
		return "", fmt.Errorf("submit: hash password: %w", err)
	}
	enc := base64.RawStdEncoding
	return hashPrefix + "$" + strconv.Itoa(iterations) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

type passwordHash struct {
	iterations int
	salt, key  []byte
}

func parseHash(s string) (passwordHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != hashPrefix {
		return passwordHash{}, fmt.Errorf("want %s$ITERATIONS$SALT$HASH", hashPrefix)
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 1 || n > 100_000_000 {
		return passwordHash{}, fmt.Errorf("iterations %q: want 1–100000000", parts[1])
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	key, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) != keyLen {
		return passwordHash{}, errors.New("salt or hash is not the base64 of a salt of 8 or more bytes and a 32-byte hash")
	}
	return passwordHash{iterations: n, salt: salt, key: key}, nil
}

func (h passwordHash) matches(password string) bool {
	key, err := pbkdf2.Key(sha256.New, password, h.salt, h.iterations, keyLen)
	return err == nil && subtle.ConstantTimeCompare(key, h.key) == 1
}

// ParseUsers reads a users file: one user per line,
//
//	NAME TOKENUSER HASH [SENDER ...]
//
// where TOKENUSER is the user's token ordinal (0 for none), HASH a
// HashPassword result and each SENDER an address or "@domain" the user may
// send as. Blank lines and lines starting with # are ignored. Every problem
// is reported with its line number; no user is returned then.
func ParseUsers(r io.Reader) (*Users, error) {
	u := &Users{users: map[string]userEntry{}, dummy: passwordHash{iterations: 1, salt: make([]byte, saltLen), key: make([]byte, keyLen)}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var errs []error
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			errs = append(errs, fmt.Errorf("line %d: want NAME TOKENUSER HASH [SENDER ...]", n))
			continue
		}
		ord, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || ord < 0 {
			errs = append(errs, fmt.Errorf("line %d: token user %q: want 0 or a positive ordinal", n, f[1]))
			continue
		}
		h, err := parseHash(f[2])
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: password hash: %w", n, err))
			continue
		}
		if _, dup := u.users[f[0]]; dup {
			errs = append(errs, fmt.Errorf("line %d: user %q listed twice", n, f[0]))
			continue
		}
		u.users[f[0]] = userEntry{user: User{Name: f[0], TokenUser: ord, Senders: f[3:]}, hash: h}
		u.dummy.iterations = max(u.dummy.iterations, h.iterations)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("submit: users: %w", errors.Join(errs...))
	}
	return u, nil
}

// Len returns the number of users.
func (u *Users) Len() int {
	if u == nil {
		return 0
	}
	return len(u.users)
}

// Authenticate implements Authenticator. It takes the same time for an
// unknown user as for a wrong password.
func (u *Users) Authenticate(_ context.Context, username, password string) (User, error) {
	var e userEntry
	ok := false
	if u != nil {
		e, ok = u.users[username]
	}
	if !ok {
		if u != nil {
			u.dummy.matches(password)
		}
		return User{}, ErrBadCredentials
	}
	if !e.hash.matches(password) {
		return User{}, ErrBadCredentials
	}
	return e.user, nil
}
