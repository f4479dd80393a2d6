package subject_test

import (
	"fmt"
	"strings"

	"github.com/mailcorrelate/mailcorrelate/subject"
)

func Example() {
	for _, s := range []string{
		"Re: [USRP-users] R: R: R: UHD and GPUs",
		"[USRP-users] UHD and GPUs",
		"回复：答复: UHD and GPUs",
	} {
		fmt.Printf("%q\n", subject.Key(s))
	}
	// Output:
	// "uhd and gpus"
	// "uhd and gpus"
	// "uhd and gpus"
}

func ExampleBase() {
	base, info := subject.Base("RE: Re[2]: [ILUG] Wedding plans (was Re: Ouch...)")
	fmt.Printf("base:  %q\n", base)
	fmt.Printf("reply: %v, depth %d\n", info.Reply, info.Depth)
	fmt.Printf("tags:  %q\n", info.Tags)
	fmt.Printf("was:   %q\n", info.Was)
	// Output:
	// base:  "Wedding plans"
	// reply: true, depth 3
	// tags:  ["ILUG"]
	// was:   "Re: Ouch..."
}

func ExampleBase_notPrefixes() {
	for _, s := range []string{
		"Economist: the week ahead",
		"X440: calibration fails",
		"[PATCH v2 3/5] can: m_can: fix the clock",
		"Ad: Re: x",
	} {
		base, _ := subject.Base(s)
		fmt.Println(base)
	}
	// Output:
	// Economist: the week ahead
	// X440: calibration fails
	// can: m_can: fix the clock
	// Ad: Re: x
}

func ExampleBase_tokens() {
	for _, s := range []string{
		"[Ticket#2024] Re: Printer broken",
		"RE: Printer broken CRM:0001001",
	} {
		base, info := subject.Base(s)
		fmt.Printf("%q %q\n", base, info.Tokens)
	}
	// Output:
	// "[Ticket#2024] Printer broken" ["Ticket#2024"]
	// "Printer broken CRM:0001001" ["CRM:0001001"]
}

func ExampleNew() {
	rfc := subject.New(&subject.Options{Mode: subject.RFC5256})
	ext := subject.New(&subject.Options{
		ExtraReplyPrefixes: []string{"Antwoord"},
		ExcludePrefixes:    []string{"I"}, // Italian "forward"; ours says "I: robot"
	})
	for _, s := range []string{"AW: Angebot", "Antwoord: Offerte", "I: robot"} {
		a, _ := rfc.Base(s)
		b, _ := ext.Base(s)
		fmt.Printf("%-20q RFC5256 %-20q Extended %q\n", s, a, b)
	}
	// Output:
	// "AW: Angebot"        RFC5256 "AW: Angebot"        Extended "Angebot"
	// "Antwoord: Offerte"  RFC5256 "Antwoord: Offerte"  Extended "Offerte"
	// "I: robot"           RFC5256 "I: robot"           Extended "I: robot"
}

func ExampleFold() {
	fmt.Println(subject.Fold("  RÉSUMÉ für  Straße ") == subject.Fold("résumé für strasse"))
	fmt.Println(subject.Fold("ＵＨＤ　and GPUs"))
	// Output:
	// true
	// uhd and gpus
}

func ExampleWords() {
	fmt.Println(strings.Join(subject.Words("Re: N310的问题 (UHD-4.8)"), " | "))
	// Output: re | n310 | 的问 | 问题 | uhd | 4 | 8
}

func ExampleAppendWords() {
	buf := make([]string, 0, 16) // reused for every subject: no allocation
	for _, s := range []string{"uhd and gpus", "x440 timed commands"} {
		buf = subject.AppendWords(buf[:0], s)
		fmt.Println(len(buf), buf)
	}
	// Output:
	// 3 [uhd and gpus]
	// 3 [x440 timed commands]
}

func ExampleAutoReply() {
	for _, s := range []string{
		"Automatic reply: Re: Angebot 42",
		"[Sales] Réponse automatique : Angebot 42",
		"Re: Automatic reply: Angebot 42",
	} {
		prefix, ok := subject.AutoReply(s)
		fmt.Printf("%v %q %q\n", ok, prefix, s[len(prefix):])
	}
	// Output:
	// true "Automatic reply:" " Re: Angebot 42"
	// true "[Sales] Réponse automatique :" " Angebot 42"
	// false "" "Re: Automatic reply: Angebot 42"
}
