package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mailcorrelate/mailcorrelate/correlate"
)

// chromiumPath finds Chromium: $MAILCORRELATE_CHROMIUM, else the Debian
// package's binary (or Chrome) on $PATH. Without one the test skips on a
// developer's machine and fails in CI, which installs it (.ci/chromium.sh).
func chromiumPath(t *testing.T) string {
	if p := os.Getenv("MAILCORRELATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium not found in CI: .ci/run installs it with .ci/chromium.sh")
	}
	t.Skip("Chromium not found: install Debian's chromium package (or run bash .ci/chromium.sh) to run the task pane's browser test")
	return ""
}

// browser starts a headless Chromium of its own: a fresh profile, no
// sandbox (CI runs as root), and nothing that reaches for the network.
func browser(t *testing.T) context.Context {
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(480, 900),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// waitText waits until the text of the element with the given id is want.
func waitText(id, want string) chromedp.Action[chromedp.Void] {
	w, _ := json.Marshal(want)
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.getElementById(%q) && document.getElementById(%q).textContent.trim() === %s`, id, id, w),
		chromedp.WithPollingTimeout(20*time.Second))
}

// waitContains waits until the text of the element with the given id holds
// want.
func waitContains(id, want string) chromedp.Action[chromedp.Void] {
	w, _ := json.Marshal(want)
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.getElementById(%q) && document.getElementById(%q).textContent.includes(%s)`, id, id, w),
		chromedp.WithPollingTimeout(20*time.Second))
}

func text(ctx context.Context, t *testing.T, id string) string {
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return strings.TrimSpace(s)
}

// TestPaneInBrowser loads the task pane in a real headless Chromium,
// uploads an email, tracks it, relinks it, creates a contact and converts
// it, checking the page and the store after each step.
//
// With MAILCORRELATE_PANE_SCREENSHOT=FILE.png it also writes the
// screenshot the README shows.
func TestPaneInBrowser(t *testing.T) {
	ctx := browser(t)
	ts := newServer(t, options{})
	eml := filepath.Join(t.TempDir(), "reply.eml")
	if err := os.WriteFile(eml, []byte(replyRaw), 0o644); err != nil {
		t.Fatal(err)
	}
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			notice, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("notice").textContent`))
			t.Fatalf("%s: %v (the pane says %q)", step, err, notice)
		}
	}
	lookup := func() correlate.Tracked {
		t.Helper()
		tr, err := ts.act.Lookup(context.Background(), replyID)
		if err != nil {
			t.Fatalf("the store: %v", err)
		}
		return tr
	}

	// The token comes in the URL fragment, which the pane keeps and
	// removes from the address bar.
	do("load the pane", chromedp.Navigate(ts.URL+"/#token="+testToken), chromedp.WaitVisible(chromedp.ID("drop")))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, testToken) {
		t.Errorf("the token stays in the address bar: %s", loc)
	}
	do("set the actor", chromedp.SendKeys(chromedp.ID("actor"), "alice"), chromedp.Evaluate[chromedp.Void](`document.getElementById("actor").dispatchEvent(new Event("change"))`))

	// Upload the customer's reply: correlated with the case, not tracked.
	do("upload the email", chromedp.SetUploadFiles(chromedp.ID("file"), []string{eml}),
		waitText("status", "Not tracked"), waitText("regarding", "incident:CAS-1"), waitText("method", "InReplyTo"))
	if got := text(ctx, t, "subject"); got != "RE: Printer offline" {
		t.Errorf("subject = %q", got)
	}
	if got := text(ctx, t, "mid"); got != replyID {
		t.Errorf("message id = %q", got)
	}
	if _, err := ts.act.Lookup(context.Background(), replyID); err == nil {
		t.Error("reading an email in the pane tracked it")
	}

	// Track it.
	do("track", chromedp.Click(chromedp.ID("track")), waitText("status", "Tracked under incident:CAS-1"))
	if tr := lookup(); tr.Record.String() != "incident:CAS-1" || tr.Method != correlate.InReplyTo {
		t.Errorf("the store has %s by %s after Track", tr.Record, tr.Method)
	}

	// Relink it to another case.
	do("relink", chromedp.SetValue(chromedp.ID("record"), "incident:CAS-2"), chromedp.Click(chromedp.ID("setRegarding")),
		waitText("status", "Tracked under incident:CAS-2"), waitContains("history", "incident:CAS-1 → incident:CAS-2"),
		waitContains("history", "manual by alice"), waitText("timelineRecord", "incident:CAS-2"), waitContains("emails", "RE: Printer offline"))
	if tr := lookup(); tr.Record.String() != "incident:CAS-2" {
		t.Errorf("the store has %s after the relink", tr.Record)
	}
	_, hist, err := ts.act.History(context.Background(), replyID)
	if err != nil || len(hist) != 1 || hist[0].Actor != "alice" || hist[0].From.String() != "incident:CAS-1" || hist[0].To.String() != "incident:CAS-2" {
		t.Errorf("the store's history = %+v, %v", hist, err)
	}

	// Create a contact for the unknown Cc.
	do("create contacts", waitContains("candidates", "Ann New <ann@contoso.example>"), chromedp.Click(chromedp.ID("createContacts")),
		waitText("notice", "Created contact:new-ann"), waitContains("candidates", "→ contact:new-ann"))
	if es, err := ts.dir.Lookup(context.Background(), "ann@contoso.example", nil); err != nil || len(es) != 1 || es[0].Record.String() != "contact:new-ann" {
		t.Errorf("the directory has %+v, %v for ann@", es, err)
	}

	if shot := os.Getenv("MAILCORRELATE_PANE_SCREENSHOT"); shot != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Convert it into a new lead.
	do("convert", chromedp.SetValue(chromedp.ID("convertType"), "lead"), chromedp.Click(chromedp.ID("convertButton")),
		waitText("status", "Tracked under lead:NEW-1"), waitContains("history", "incident:CAS-2 → lead:NEW-1"), waitContains("history", "convert by alice"))
	if tr := lookup(); tr.Record.String() != "lead:NEW-1" {
		t.Errorf("the store has %s after the conversion", tr.Record)
	}

	// Email is written by strangers: markup in a subject stays text.
	hostile := strings.Replace(newRaw, "Subject: A question", `Subject: <img id="xss" src="x" onerror="document.title='owned'">`, 1)
	js, _ := json.Marshal(hostile)
	do("paste a hostile email", chromedp.Evaluate[chromedp.Void](`document.getElementById("raw").value = `+string(js)), chromedp.Click(chromedp.ID("read")),
		waitText("status", "Not tracked"), waitContains("subject", `<img id="xss"`))
	owned, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("xss") !== null || document.title === "owned"`))
	if err != nil || owned {
		t.Errorf("markup in a subject became HTML (%v)", err)
	}
}
