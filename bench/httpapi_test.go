package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailcorrelate/mailcorrelate/actions"
	"github.com/mailcorrelate/mailcorrelate/httpapi"
	"github.com/mailcorrelate/mailcorrelate/internal/benchutil"
	"github.com/mailcorrelate/mailcorrelate/internal/samplegen"
)

// loadClients is the number of concurrent HTTP clients of the load test.
const loadClients = 200

// loadDuration is how long each phase of the load test runs: 30 s, or
// MAILCORRELATE_LOAD_SECONDS.
func loadDuration() time.Duration {
	if s := os.Getenv("MAILCORRELATE_LOAD_SECONDS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return 30 * time.Second
}

// BenchmarkHTTPCorrelate is the HTTP service's load test: 200 concurrent
// clients post the held-out messages of the 1M-email store to
// POST /v1/correlate, over keep-alive connections to a real listener, for
// 30 s; then, in the same run, Engine.Correlate is called in-process on the
// same messages for as long by as many goroutines.
//
// Reported: req/s of the service and of the in-process calls, their ratio
// (http-vs-inproc; the target is at least 0.5), the same against
// ParseMessage+Correlate from the raw bytes (what the service does per
// request, http-vs-parse), client-side p50/p99 latency, errors (any
// transport error or status other than 200: the target is none) and the
// share of answers that name the record the in-process decision names.
// Clients, server and the in-process phase share the machine's cores.
func BenchmarkHTTPCorrelate(b *testing.B) {
	w := getWorld(b, 1_000_000, chainDefault)
	msgs := w.held
	dur := loadDuration()
	ctx := context.Background()

	want := make([]string, len(msgs)) // the in-process decision of each message
	for i, h := range msgs {
		d, err := w.eng.Correlate(ctx, h.msg)
		if err != nil {
			b.Fatal(err)
		}
		want[i] = d.Match.Record.String()
	}

	act, err := actions.New(w.eng, nil)
	if err != nil {
		b.Fatal(err)
	}
	const tok = "load-test-token-0123456789abcdef"
	h, err := httpapi.NewHandler(httpapi.Config{Actions: act, Token: tok, Mailbox: samplegen.Mailbox,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}) // the access log is formatted, then dropped
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := httpapi.NewServer(ln.Addr().String(), h, httpapi.Timeouts{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(ln)
	defer srv.Close()
	// Each request is built once: the clients write it whole on their
	// keep-alive connection and read the answer with http.ReadResponse,
	// as a load generator such as wrk does, without a Transport's
	// goroutines per connection: clients and server share the cores.
	reqs := make([][]byte, len(msgs))
	for i, h := range msgs {
		q := url.Values{"folder": {h.folder}, "direction": {h.msg.Direction.String()}}
		reqs[i] = fmt.Appendf(nil, "POST /v1/correlate?%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: message/rfc822\r\nContent-Length: %d\r\n\r\n%s", q.Encode(), ln.Addr(), tok, len(h.raw), h.raw)
	}
	b.ResetTimer()
	post := load(ln.Addr().String(), reqs, dur, func(k int, body []byte) bool {
		return bytes.Contains(body, []byte(`"regarding":"`+want[k]+`"`))
	})
	// The floor: the same clients on GET /healthz, an endpoint that does
	// next to nothing, for what HTTP itself costs here.
	health := [][]byte{fmt.Appendf(nil, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", ln.Addr())}
	floor := load(ln.Addr().String(), health, dur, nil)

	// The in-process phases, on the same messages: Correlate alone, then
	// ParseMessage+Correlate from the raw bytes.
	// As many goroutines as there were clients, sharing the parsed
	// messages (Correlate only reads a Message).
	workers := loadClients
	inproc := func(op func(k int)) (float64, time.Duration) {
		var count atomic.Int64
		var wg sync.WaitGroup
		cpu0 := benchutil.CPUTime()
		start := time.Now()
		deadline := start.Add(dur)
		for g := range workers {
			wg.Go(func() {
				var c int64
				for i := g * 7919; ; i++ {
					if i%64 == 0 && !time.Now().Before(deadline) {
						break
					}
					op(i % len(msgs))
					c++
				}
				count.Add(c)
			})
		}
		wg.Wait()
		el := time.Since(start)
		return float64(count.Load()) / el.Seconds(), (benchutil.CPUTime() - cpu0) / time.Duration(max(count.Load(), 1))
	}
	correlateRate, correlateCPU := inproc(func(k int) {
		if _, err := w.eng.Correlate(ctx, msgs[k].msg); err != nil {
			b.Error(err)
		}
	})
	parseRate, parseCPU := inproc(func(k int) {
		m := parse(msgs[k].raw, msgs[k].folder)
		if _, err := w.eng.Correlate(ctx, m); err != nil {
			b.Error(err)
		}
	})
	b.StopTimer()

	b.ReportMetric(float64(post.elapsed.Nanoseconds())/float64(max(post.n, 1)), "ns/op")
	b.ReportMetric(post.rate(), "http-req/s")
	b.ReportMetric(float64(post.hist.Quantile(0.5).Microseconds()), "p50-µs")
	b.ReportMetric(float64(post.hist.Quantile(0.99).Microseconds()), "p99-µs")
	b.ReportMetric(float64(post.cpu.Nanoseconds())/float64(max(post.n, 1)), "http-cpu-ns/req")
	b.ReportMetric(float64(post.failures), "errors")
	b.ReportMetric(float64(post.agree)/float64(max(post.n-post.failures, 1)), "agrees/req")
	b.ReportMetric(floor.rate(), "floor-req/s")
	b.ReportMetric(float64(floor.cpu.Nanoseconds())/float64(max(floor.n, 1)), "floor-cpu-ns/req")
	b.ReportMetric(correlateRate, "inproc-correlate/s")
	b.ReportMetric(float64(correlateCPU.Nanoseconds()), "inproc-cpu-ns/op")
	b.ReportMetric(parseRate, "inproc-parse+correlate/s")
	b.ReportMetric(float64(parseCPU.Nanoseconds()), "inproc-parse-cpu-ns/op")
	b.ReportMetric(post.rate()/correlateRate, "http-vs-inproc")
	b.ReportMetric(post.rate()/parseRate, "http-vs-parse")
	b.ReportMetric(floor.rate()/correlateRate, "floor-vs-inproc")
	b.ReportMetric(float64(len(msgs)), "messages")
	if post.failures > 0 || floor.failures > 0 {
		b.Errorf("%d of %d requests failed (%d of %d on the floor); the first: %s", post.failures, post.n, floor.failures, floor.n, post.firstErr+floor.firstErr)
	}
}

// A loadResult is what one phase of the load test measured.
type loadResult struct {
	n, failures, agree int64
	firstErr           string
	elapsed, cpu       time.Duration
	hist               benchutil.Histogram // client-side latency of the answered requests
}

func (r *loadResult) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

// load runs loadClients clients against addr for dur, each on its own
// keep-alive connection, sending reqs round robin (client c starts at a
// different one) and reading each answer with http.ReadResponse. A
// request fails on a transport error or a status other than 200; check,
// when not nil, says whether the body of the answer to reqs[k] is right.
func load(addr string, reqs [][]byte, dur time.Duration, check func(k int, body []byte) bool) *loadResult {
	var (
		res         loadResult
		mu          sync.Mutex
		n, failures atomic.Int64
		agree       atomic.Int64
		wg          sync.WaitGroup
	)
	cpu0 := benchutil.CPUTime()
	start := time.Now()
	deadline := start.Add(dur)
	for c := range loadClients {
		wg.Go(func() {
			fail := func(err error) {
				failures.Add(1)
				mu.Lock()
				if res.firstErr == "" {
					res.firstErr = err.Error()
				}
				mu.Unlock()
			}
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				fail(err)
				return
			}
			defer conn.Close()
			br := bufio.NewReaderSize(conn, 16<<10)
			buf := make([]byte, 0, 16<<10)
			for i := c * 7919; time.Now().Before(deadline); i++ {
				k := i % len(reqs)
				t0 := time.Now()
				if _, err := conn.Write(reqs[k]); err != nil {
					fail(err)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err == nil {
					buf, err = readAll(resp.Body, buf[:0])
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d: %s", resp.StatusCode, buf)
					}
				}
				el := time.Since(t0)
				n.Add(1)
				if err != nil {
					fail(err)
					return
				}
				mu.Lock()
				res.hist.Record(el)
				mu.Unlock()
				if check == nil || check(k, buf) {
					agree.Add(1)
				}
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.cpu = benchutil.CPUTime() - cpu0
	res.n, res.failures, res.agree = n.Load(), failures.Load(), agree.Load()
	return &res
}

// readAll reads r into buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
