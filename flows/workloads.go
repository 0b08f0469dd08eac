package flows

import "slices"

// WorkloadNames names the workloads among consumers, each once, in
// order, as kubectl does: deploy/NAME or cronjob/NAME.
func WorkloadNames(cs []Consumer) []string {
	var out []string
	for _, c := range cs {
		kind := "deploy"
		if c.Kind != "Deployment" {
			kind = "cronjob"
		}
		if name := kind + "/" + c.Name; !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}
