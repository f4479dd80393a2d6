// Command gensample writes the replay command's embedded sample: a Maildir
// of generated mail, the seed and labels JSON Lines files, and the folder
// rules. Run it through `go generate ./examples/replay`; pass -customers N
// for a larger mailbox to replay or benchmark.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/mailcorrelate/mailcorrelate/correlate"
	"github.com/mailcorrelate/mailcorrelate/folder"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
)

func main() {
	out := flag.String("out", "sample", "output directory (replaced)")
	customers := flag.Int("customers", 0, "extra customers beyond the nine of the embedded sample")
	seed := flag.Uint64("seed", 0, "generator seed")
	flag.Parse()

	s := samplegen.Generate(&samplegen.Options{Seed: *seed, ExtraCustomers: *customers})
	if err := os.RemoveAll(*out); err != nil {
		log.Fatal(err)
	}
	if err := samplegen.WriteMaildir(filepath.Join(*out, "mail"), s); err != nil {
		log.Fatal(err)
	}
	if err := samplegen.WriteJSONLines(filepath.Join(*out, "seed.jsonl"), s.Seed()); err != nil {
		log.Fatal(err)
	}
	if err := samplegen.WriteJSONLines(filepath.Join(*out, "labels.jsonl"), s.Labels()); err != nil {
		log.Fatal(err)
	}
	if err := writeFolders(filepath.Join(*out, "folders.json"), s.Folders); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %d messages (%d seeded) to %s\n", len(s.Mails), len(s.Seed()), *out)
}

// writeFolders writes the sample's folder rules in the folder package's JSON
// form, which the replay command's -folders flag reads.
func writeFolders(path string, mappings []samplegen.FolderMapping) error {
	rules, err := folder.NewRules(nil)
	if err != nil {
		return err
	}
	for _, m := range mappings {
		rec, err := correlate.ParseRecord(m.Regarding)
		if err != nil {
			return err
		}
		if err := rules.Add(folder.Mapping{Mailbox: m.Mailbox, FolderID: m.FolderID, FolderPath: m.FolderPath, Record: rec}); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(rules, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
