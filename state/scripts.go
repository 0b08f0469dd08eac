package state

import (
	"embed"

	"github.com/redis/go-redis/v9"
)

// Every multi-key change is one Lua script rather than WATCH/MULTI: one
// round trip instead of three, and no retry loop when writers contend.
// Scripts keep their checks before their first write (see common.lua).

//go:embed lua/*.lua
var luaFiles embed.FS

var (
	createRunScript   = script("create_run")
	updateRunScript   = script("update_run")
	createOfferScript = script("create_offer")
	updateOfferScript = script("update_offer")
	createBatchScript = script("create_batch")
	updateBatchScript = script("update_batch")
	auditScript       = script("audit")
	claimScript       = script("claim")
	releaseScript     = script("release")
	renewNameScript   = script("renew_name")
	finishSweepScript = script("finish_sweep")
)

func script(name string) *redis.Script {
	common, err := luaFiles.ReadFile("lua/common.lua")
	if err != nil {
		panic(err)
	}
	body, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(err)
	}
	return redis.NewScript(string(common) + string(body))
}
