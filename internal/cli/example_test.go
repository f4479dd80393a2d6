package cli_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/internal/cli"
)

// A command defines the shared flags beside its own, builds its engine
// from them, and writes its rows.
func Example() {
	var f cli.Flags
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	f.Register(fs)
	if err := cli.Parse(fs, []string{"-format", "jsonl", "-smart", "dynamics"}); err != nil {
		fmt.Println(err)
		return
	}
	if err := f.Check(); err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	st, closeStore, err := cli.OpenStore(ctx, f.Store)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeStore()
	chain := f.Chain()
	chain.Mailbox = "support@fabrikam.example"
	eng, err := cli.NewEngine(st, chain)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := correlate.ParseMessage(strings.NewReader("Message-ID: <a@contoso.example>\r\nSubject: Hello\r\n\r\n"), nil)
	cli.Place(m, chain.Mailbox, "Inbox")
	d, err := eng.Correlate(ctx, m)
	if err != nil {
		fmt.Println(err)
		return
	}
	rows := cli.NewRows(os.Stdout, cli.RowsOptions{JSON: f.Format == "jsonl"})
	rows.Write(map[string]any{"message_id": m.MessageID, "folder": m.FolderPath, "found": d.Found()}, nil)
	rows.Flush()
	// Output:
	// {"folder":"Inbox","found":false,"message_id":"a@contoso.example"}
}

func ExampleDecodeLabels() {
	labels, err := cli.DecodeLabels(strings.NewReader(`{"message_id": "<R1@Contoso.Example>", "regarding": "incident:CAS-1"}
{"message_id": "r2@contoso.example", "regarding": ""}
{"message_id": "r3@contoso.example"`), "labels.jsonl")
	fmt.Println(labels["R1@contoso.example"], labels["r2@contoso.example"].IsZero())
	fmt.Println(err)
	// Output:
	// incident:CAS-1 true
	// labels.jsonl:3: unexpected end of JSON input
}

func ExampleStoreName() {
	fmt.Println(cli.StoreName("postgres://crm:s3cret@db.fabrikam.example/mail"))
	// Output: postgres://crm:xxxxx@db.fabrikam.example/mail
}

func ExampleNewRows() {
	rows := cli.NewRows(os.Stdout, cli.RowsOptions{Header: "#\tSUBJECT\tREGARDING"})
	for _, r := range [][]string{{"Printer offline", "incident:CAS-1"}, {"RE: " + strings.Repeat("very long subject ", 5), "-"}} {
		rows.Write(nil, func() []string { return []string{cli.Clip(r[0], 30), r[1]} })
	}
	rows.Flush()
	// Output:
	// #  SUBJECT                         REGARDING
	// 1  Printer offline                 incident:CAS-1
	// 2  RE: very long subject very lo…  -
}
