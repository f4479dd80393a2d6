// Package dovecottest gives tests the Dovecot server .ci/dovecot.sh
// started: its address, fresh users (each an empty mailbox) and a restart.
// Tests skip when no server runs, except in CI (CI=true), where that is a
// failure.
package dovecottest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A Server is the running Dovecot.
type Server struct {
	// Addr is its IMAP address, "127.0.0.1:PORT".
	Addr string
	// POP3Addr is its POP3 address, "127.0.0.1:PORT" ("" when the
	// script that started it predates POP3).
	POP3Addr string
	// Dir holds its configuration, users file and mail.
	Dir string
}

// Need returns the running Dovecot, or skips the test when there is none
// (fails it when CI=true).
func Need(t testing.TB) Server {
	t.Helper()
	u, dir := os.Getenv("MAILCORRELATE_TEST_DOVECOT"), os.Getenv("MAILCORRELATE_TEST_DOVECOT_DIR")
	if u == "" || dir == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but MAILCORRELATE_TEST_DOVECOT is not set: .ci/run must start Dovecot (.ci/dovecot.sh)")
		}
		t.Skip("Dovecot not running: run the tests under `bash .ci/dovecot.sh run go test …` (installs and starts a throwaway server)")
	}
	return Server{Addr: strings.TrimPrefix(u, "imap://"), POP3Addr: strings.TrimPrefix(os.Getenv("MAILCORRELATE_TEST_DOVECOT_POP3"), "pop3://"), Dir: dir}
}

// NeedPOP3 is Need for a test of Dovecot's POP3 service.
func NeedPOP3(t testing.TB) Server {
	t.Helper()
	s := Need(t)
	if s.POP3Addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but MAILCORRELATE_TEST_DOVECOT_POP3 is not set: .ci/dovecot.sh must start POP3")
		}
		t.Skip("Dovecot runs without POP3: start it again with `bash .ci/dovecot.sh run go test …`")
	}
	return s
}

// Home returns the directory of a user's mail (its Maildir is
// Home(user)+"/Maildir").
func (s Server) Home(user string) string { return filepath.Join(s.Dir, "home", user) }

// NewUser returns a user no test used before on this server, and its
// password: one of the users .ci/dovecot.sh wrote (u0001, u0002 …, claimed
// through a counter file locked against the other test processes), or,
// when they are used up, a new line in the users file.
func (s Server) NewUser(t testing.TB) (user, password string) {
	t.Helper()
	return s.newUser(t, "")
}

// NewUserWith returns a new user whose line in the users file ends with
// userdb extra fields (space-separated key=value, "%" written "%%"), which
// override Dovecot's settings for that user alone — as
// "userdb_pop3_uidl_format=%%08Xu", UIDLs that are the bare UID. Such a
// user is always a new line: it costs the second Dovecot takes to read
// the file again.
func (s Server) NewUserWith(t testing.TB, extra string) (user, password string) {
	t.Helper()
	if strings.ContainsAny(extra, ":\n") {
		t.Fatalf("dovecottest: extra fields %q: no colon, no line break", extra)
	}
	return s.newUser(t, extra)
}

func (s Server) newUser(t testing.TB, extra string) (user, password string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(s.Dir, "next-user"), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("dovecottest: lock: %v", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	next, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	next++
	if _, err := f.WriteAt([]byte(fmt.Sprintf("%-20d\n", next)), 0); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	user = fmt.Sprintf("u%04d", next)
	password = "pw-" + user
	if next <= preMade(s.Dir) {
		if extra == "" {
			return user, password
		}
		// A pre-made user has a line without the extra fields: name a
		// new one.
		user = fmt.Sprintf("x%04d", next)
		password = "pw-" + user
	}
	// Used up: add the user. Dovecot reads the file again when its
	// mtime changes, in whole seconds, so move it forward by at least
	// one (the lock held above keeps the other processes out).
	p := filepath.Join(s.Dir, "users")
	uf, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	_, err = uf.WriteString(user + ":{PLAIN}" + password + "::::::" + extra + "\n")
	uf.Close()
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	mt := time.Now().Truncate(time.Second)
	if !mt.After(st.ModTime()) {
		mt = st.ModTime().Truncate(time.Second).Add(time.Second)
	}
	if err := os.Chtimes(p, mt, mt); err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	time.Sleep(1100 * time.Millisecond)
	return user, password
}

// preMade returns the number of users .ci/dovecot.sh wrote.
func preMade(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "premade-users"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// Private starts a Dovecot of the test's own with script (.ci/dovecot.sh
// start), stopped and removed when the test ends, for a test that restarts
// its server: restarting the shared one would end the sessions of the
// tests running beside it, in this package or another. It skips or fails
// as Need does when no shared server runs (the sign that the tests were
// not started under the script).
func Private(t testing.TB, script string) Server {
	t.Helper()
	Need(t)
	// The master keeps the descriptors it was started with: files, not
	// pipes, or Run would wait for Dovecot to exit.
	var files [2]*os.File
	for i := range files {
		f, err := os.CreateTemp("", "dovecot-start")
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(f.Name())
		defer f.Close()
		files[i] = f
	}
	cmd := exec.Command("bash", script, "start")
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	err := cmd.Run()
	out, _ := os.ReadFile(files[0].Name())
	if err != nil {
		msg, _ := os.ReadFile(files[1].Name())
		t.Fatalf("dovecottest: start a private server: %v: %s", err, msg)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if ok {
			env[k] = strings.Trim(v, "'")
		}
	}
	s := Server{Addr: strings.TrimPrefix(env["MAILCORRELATE_TEST_DOVECOT"], "imap://"),
		POP3Addr: strings.TrimPrefix(env["MAILCORRELATE_TEST_DOVECOT_POP3"], "pop3://"), Dir: env["MAILCORRELATE_TEST_DOVECOT_DIR"]}
	if s.Addr == "" || s.Dir == "" {
		t.Fatalf("dovecottest: %s start printed no server: %q", script, out)
	}
	t.Cleanup(func() {
		if err := exec.Command("bash", script, "stop", s.Dir).Run(); err != nil {
			t.Errorf("dovecottest: stop the private server %s: %v", s.Dir, err)
		}
	})
	return s
}

// Restart stops Dovecot and starts it again on the same port, ending every
// open session (.ci/dovecot.sh restart): of a Private server, unless no
// other test uses the server.
func (s Server) Restart(t testing.TB, script string) {
	t.Helper()
	// The restarted master keeps the descriptors it was given: a file,
	// not a pipe, or Wait would wait for Dovecot to exit.
	out, err := os.CreateTemp("", "dovecot-restart")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command("bash", script, "restart", s.Dir)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out.Name())
		t.Fatalf("dovecottest: restart: %v: %s", err, b)
	}
}
