//go:build profile

package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// profile starts what getenv asks for: a CPU profile
// (SANDBOXBOT_CPUPROFILE), and a heap profile when ctx ends
// (SANDBOXBOT_MEMPROFILE). The bot runs under botCtx; finish stops the
// profiles once it has returned and says what went wrong writing them.
func profile(ctx context.Context, getenv func(string) string) (botCtx context.Context, finish func() error, err error) {
	stopCPU := func() {}
	if path := getenv("SANDBOXBOT_CPUPROFILE"); path != "" {
		if stopCPU, err = startCPUProfile(path); err != nil {
			return nil, nil, err
		}
	}
	botCtx, heap := ctx, func() error { return nil }
	if path := getenv("SANDBOXBOT_MEMPROFILE"); path != "" {
		botCtx, heap = stopAfterHeapProfile(ctx, path)
	}
	return botCtx, func() error {
		err := heap()
		stopCPU()
		return err
	}, nil
}

// stopAfterHeapProfile returns a context for the bot that ends only once
// a heap profile of the live bot has been written to path, after a
// collection, when ctx ends (the benchmark's SIGTERM). Taken then, before
// the bot lets go of anything, the profile shows what the bot held in the
// state the benchmark left it in: after the bot returned it would show
// nothing. wait returns the profile's error once the bot has stopped.
// Sampling is the runtime's (GODEBUG=memprofilerate=N for finer).
func stopAfterHeapProfile(ctx context.Context, path string) (botCtx context.Context, wait func() error) {
	botCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() {
		defer cancel()
		select {
		case <-ctx.Done():
		case <-botCtx.Done():
			// The bot returned by itself; if the stop came too (select
			// picks either when both are ready), the profile is still due.
			if ctx.Err() == nil {
				done <- nil
				return
			}
		}
		done <- writeHeapProfile(path)
	}()
	return botCtx, func() error {
		cancel()
		return <-done
	}
}

// startCPUProfile profiles the bot's CPU into path until stop.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("SANDBOXBOT_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("SANDBOXBOT_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("SANDBOXBOT_MEMPROFILE: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("SANDBOXBOT_MEMPROFILE: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("SANDBOXBOT_MEMPROFILE: %w", err)
	}
	return nil
}
