package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/alphagov/signon-token-bot/flows"
	"github.com/alphagov/signon-token-bot/flows/token"
)

// Server serves each environment's Signon and Cluster at
// /<environment>/<Method>.
type Server struct {
	Envs map[string]flows.Env
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	env, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	e, known := s.Envs[env]
	if !ok || !known {
		http.Error(w, "unknown environment "+env, http.StatusNotFound)
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	result, err := dispatch(r.Context(), e, method, req.Args)
	if err != nil && strings.HasPrefix(err.Error(), "sandbox:") {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp := response{Error: toWire(err)}
	if err == nil {
		b, merr := json.Marshal(result)
		if merr != nil {
			http.Error(w, merr.Error(), http.StatusInternalServerError)
			return
		}
		resp.Result = b
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// args decodes a call's arguments into the pointers given.
func args(raw []json.RawMessage, into ...any) error {
	if len(raw) != len(into) {
		return fmt.Errorf("sandbox: %d arguments, want %d", len(raw), len(into))
	}
	for i := range raw {
		if err := json.Unmarshal(raw[i], into[i]); err != nil {
			return fmt.Errorf("sandbox: argument %d: %v", i, err)
		}
	}
	return nil
}

func dispatch(ctx context.Context, e flows.Env, method string, raw []json.RawMessage) (any, error) {
	var (
		s1, s2 string
		t1     time.Time
		d1     time.Duration
		c      flows.Consumer
		fp     token.Fingerprint
	)
	switch method {
	case "FindAPIUser":
		if err := args(raw, &s1); err != nil {
			return nil, err
		}
		return e.Signon.FindAPIUser(ctx, s1)
	case "Tokens":
		if err := args(raw, &s1, &s2); err != nil {
			return nil, err
		}
		return e.Signon.Tokens(ctx, s1, s2)
	case "Expiring":
		if err := args(raw, &d1); err != nil {
			return nil, err
		}
		return e.Signon.Expiring(ctx, d1)
	case "Estate":
		est, ok := e.Signon.(estate)
		if !ok {
			return nil, fmt.Errorf("estate report: %w: this environment's Signon cannot report its estate", flows.ErrUnavailable)
		}
		if err := args(raw, &d1); err != nil {
			return nil, err
		}
		return est.Estate(ctx, d1)
	case "Issue":
		var req flows.IssueRequest
		if err := args(raw, &req); err != nil {
			return nil, err
		}
		res, err := e.Signon.Issue(ctx, req)
		return issued{Issued: res, Plaintext: res.Secret.Reveal()}, err
	case "Revoke":
		var req flows.RevokeRequest
		if err := args(raw, &req); err != nil {
			return nil, err
		}
		return e.Signon.Revoke(ctx, req)
	case "Reveal":
		var req flows.RevealRequest
		if err := args(raw, &req); err != nil {
			return nil, err
		}
		res, err := e.Signon.Reveal(ctx, req)
		return revealed{Revealed: res, Plaintext: res.Secret.Reveal()}, err
	case "Location":
		ns, cj := e.Cluster.Location()
		return [2]string{ns, cj}, nil
	case "SecretName":
		if err := args(raw, &s1, &s2); err != nil {
			return nil, err
		}
		return e.Cluster.SecretName(s1, s2), nil
	case "Secret":
		if err := args(raw, &s1); err != nil {
			return nil, err
		}
		return e.Cluster.Secret(ctx, s1)
	case "Consumers":
		if err := args(raw, &s1); err != nil {
			return nil, err
		}
		return e.Cluster.Consumers(ctx, s1)
	case "SecretReaders":
		sr, ok := e.Cluster.(secretReaders)
		if !ok {
			return nil, fmt.Errorf("list the Secrets' readers: %w: this environment's cluster cannot list them", flows.ErrUnavailable)
		}
		if err := args(raw); err != nil {
			return nil, err
		}
		return sr.SecretReaders(ctx)
	case "StartSync":
		if err := args(raw, &s1, &t1); err != nil {
			return nil, err
		}
		return e.Cluster.StartSync(ctx, s1, t1)
	case "WaitSync":
		if err := args(raw, &s1, &s2); err != nil {
			return nil, err
		}
		return e.Cluster.WaitSync(ctx, s1, s2, nil)
	case "WaitRollout":
		if err := args(raw, &s1, &t1, &d1); err != nil {
			return nil, err
		}
		return e.Cluster.WaitRollout(ctx, s1, t1, d1)
	case "RestartDeployment":
		if err := args(raw, &s1, &t1); err != nil {
			return nil, err
		}
		return nil, e.Cluster.RestartDeployment(ctx, s1, t1)
	case "CheckPods":
		if err := args(raw, &c, &fp); err != nil {
			return nil, err
		}
		return e.Cluster.CheckPods(ctx, c, fp)
	case "LiveCheck":
		if err := args(raw, &c, &s1); err != nil {
			return nil, err
		}
		return e.Cluster.LiveCheck(ctx, c, s1)
	case "Explain":
		var cs []flows.Consumer
		if err := args(raw, &s1, &t1, &cs); err != nil {
			return nil, err
		}
		if ex, ok := e.Cluster.(flows.Explainer); ok {
			return ex.Explain(ctx, s1, t1, cs)
		}
		return []string(nil), nil
	}
	return nil, fmt.Errorf("sandbox: unknown method %q", method)
}
