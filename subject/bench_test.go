package subject_test

import (
	"testing"

	"github.com/mailcorrelate/mailcorrelate/subject"
)

// benchSubjects are real-looking subjects, most of them from the corpora.
var benchSubjects = []struct{ name, in string }{
	{"plain", "Printer on the third floor is broken again"},
	{"re-aw", "Re: AW: Angebot 42"},
	{"list-reply", "Re: [USRP-users] E320 image question"},
	{"italian-chain", "Re: [USRP-users] R: R: R: UHD and GPUs"},
	{"bat-counters", "RE: Re[2]: Wedding plans (was Re: Ouch...)"},
	{"chinese", "[USRP-users] 回复: 回复: 回复: TPM on the N310"},
	{"token", "[Ticket#2023120110000015] Re: Printer broken"},
	{"not-prefix", "Economist: markets, models and the week ahead"},
	{"folded-spaces", "Fwd: Re[2]: Quarterly numbers for the    board meeting"},
}

func BenchmarkBase(b *testing.B) {
	modes := []struct {
		name string
		n    *subject.Normalizer
	}{
		{"Extended", subject.New(nil)},
		{"RFC5256", subject.New(&subject.Options{Mode: subject.RFC5256})},
	}
	for _, m := range modes {
		for _, s := range benchSubjects {
			b.Run(m.name+"/"+s.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(s.in)))
				for b.Loop() {
					_, _ = m.n.Base(s.in)
				}
			})
		}
	}
}

func BenchmarkKey(b *testing.B) {
	for _, s := range benchSubjects {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = subject.Key(s.in)
			}
		})
	}
}

func BenchmarkFold(b *testing.B) {
	for _, s := range []struct{ name, in string }{
		{"ascii-folded", "uhd and gpus on the x440"},
		{"ascii", "UHD and GPUs on the X440"},
		{"latin-folded", "résumé für strasse"},
		{"latin", "RÉSUMÉ für Straße"},
		{"cjk-folded", "回复 打印机故障"},
		{"fullwidth", "ＵＨＤ　ａｎｄ　ＧＰＵｓ"},
	} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.in)))
			for b.Loop() {
				_ = subject.Fold(s.in)
			}
		})
	}
}

func BenchmarkWords(b *testing.B) {
	for _, s := range []struct{ name, in string }{
		{"ascii-folded", "uhd and gpus on the x440"},
		{"ascii", "UHD and GPUs on the X440"},
		{"cjk", "打印机故障 TPM on the N310"},
	} {
		b.Run("Append/"+s.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]string, 0, 32)
			for b.Loop() {
				buf = subject.AppendWords(buf[:0], s.in)
			}
		})
		b.Run("New/"+s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = subject.Words(s.in)
			}
		})
	}
}

func BenchmarkAutoReply(b *testing.B) {
	for _, s := range []struct{ name, in string }{
		{"hit", "Automatic reply: Re: Angebot 42"},
		{"miss", "Re: AW: Angebot 42"},
	} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = subject.AutoReply(s.in)
			}
		})
	}
}
