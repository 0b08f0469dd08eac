package flows

import (
	"context"
	"fmt"
	"strings"
)

// A takeover is a replica driving a run that another replica was driving
// when its lease lapsed: that replica crashed, hung or was shut down in
// the middle of a step. The thread says so once, so that the people
// watching it know why the run paused for a while and where it went on;
// which replica it was is for the log. A replica driving its own run
// again (a restart of the same pod, which keeps its owner name) is not a
// takeover.

// stampDriver records in a run about to be saved who drives it: the
// replica, when the save comes from a drive of a running run, and nobody
// once the run waits, pauses or ends, so that the replica that drives it
// after the next click is not mistaken for a takeover. Saves from clicks
// leave it as it is.
func (e *Engine) stampDriver(ctx context.Context, run *Run) {
	if run.Phase != PhaseRunning {
		run.Driver = ""
		return
	}
	if _, driving := ctx.Value(watchdogKey{}).(*watchdog); driving {
		run.Driver = e.owner
	}
}

// noteTakeover adds the takeover's line to the thread of a run that
// another replica was driving, in the same save that makes this replica
// its driver: a replica that dies after that save leaves the line to be
// posted by whoever drives next, and a second replica cannot add it
// again, because the run names its new driver. A run already ending is
// left alone: its last messages say how it ended.
func (e *Engine) noteTakeover(ctx context.Context, run *Run) error {
	if run.Phase != PhaseRunning || run.Driver == "" || replica(run.Driver) == replica(e.owner) || run.EndAs != "" {
		return nil
	}
	previous := run.Driver
	where := fmt.Sprintf("at the %s step", run.Step)
	if run.Step == StepDone {
		where = "as it was finishing"
	}
	run.post(Post{Step: run.Step, At: e.clock.Now(), Title: "Resumed " + where + ": the worker that was running it stopped answering."})
	if err := e.save(ctx, run); err != nil {
		return fmt.Errorf("take over run %s: %w", run.ID, err)
	}
	e.runLog(run).Warn("took the run over: its lease lapsed under another replica", "previous", previous, "step", run.Step)
	return nil
}

// replica is the part of an owner that names the replica: a pod's name
// stays when its container restarts, while the incarnation after "#"
// changes with every process (see incarnation).
func replica(owner string) string {
	name, _, _ := strings.Cut(owner, "#")
	return name
}
