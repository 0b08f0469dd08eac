package kubetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

// CompactEtcd compacts etcd's history up to its current revision, as the
// apiserver's own compactor does every five minutes
// (--etcd-compaction-interval), and returns that revision. A watch of a
// resource the apiserver does not cache (Events) from an older
// resourceVersion then gets the apiserver's ERROR event: 410, reason
// Expired.
func (cp *ControlPlane) CompactEtcd(ctx context.Context) (int64, error) {
	var head struct {
		Header struct {
			Revision int64 `json:"revision,string"`
		} `json:"header"`
	}
	key := base64.StdEncoding.EncodeToString([]byte("kubetest-compact"))
	if err := cp.etcdCall(ctx, "/v3/kv/range", map[string]any{"key": key}, &head); err != nil {
		return 0, err
	}
	rev := head.Header.Revision
	if err := cp.etcdCall(ctx, "/v3/kv/compaction", map[string]any{"revision": rev, "physical": true}, nil); err != nil {
		return 0, err
	}
	return rev, nil
}

// etcdCall posts a request to etcd's JSON gateway.
func (cp *ControlPlane) etcdCall(ctx context.Context, path string, body any, into any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cp.etcdURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("etcd %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd %s: %s", path, resp.Status)
	}
	if into == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return fmt.Errorf("etcd %s: %w", path, err)
	}
	return nil
}
