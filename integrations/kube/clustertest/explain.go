package clustertest

import (
	"context"
	"fmt"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
)

// Explain says what the real client would read from the objects' status:
// with NoReloader, a Deployment whose pod is older than its Secret's last
// write was not restarted, although (as GOV.UK's are) it is annotated for
// Reloader. A Stuck Deployment rolled and is ready: the cluster shows
// nothing wrong with it, so it adds no line.
func (c *Cluster) Explain(ctx context.Context, secretName string, since time.Time, consumers []flows.Consumer) ([]string, error) {
	if err := c.enter("Explain"); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.secrets[secretName]
	var lines []string
	seen := map[string]bool{}
	for _, con := range consumers {
		p := c.pods[con.Name]
		if con.Kind != "Deployment" || seen[con.Name] || !ok || p == nil || p.seq > s.seq || !c.NoReloader {
			continue
		}
		seen[con.Name] = true
		lines = append(lines, fmt.Sprintf("Reloader did not restart deploy/%s, although its annotations ask it to: is Reloader running, and does it watch this namespace?", con.Name))
	}
	return lines, nil
}

var _ flows.Explainer = (*Cluster)(nil)
