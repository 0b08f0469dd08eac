package slack_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/alphagov/signon-token-bot/integrations/slack"
)

// BenchmarkEnvelopeAck measures an envelope's round trip through the real
// slack-go client and the runner, from the fake writing it to the fake
// reading its ack, while every worker is stuck in a handler.
func BenchmarkEnvelopeAck(b *testing.B) {
	f := newFixture(b, nil)
	ctx := context.Background()
	block := make(chan struct{})
	defer close(block)
	r := slack.NewRunner(f.client, handlerFunc(func(context.Context, slack.Envelope) { <-block }),
		slack.RunnerConfig{Workers: 2, Backlog: b.N + 10, PingInterval: time.Second})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = r.Run(runCtx) }()
	if err := f.fake.WaitConnected(ctx, 1); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		d := slash(f, "bench")
		ack, err := d.WaitAck(ctx)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, ack.Latency)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
