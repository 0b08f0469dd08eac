package kube

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// store holds the objects of one list by "namespace/name", as a list and
// the watch after it last saw them. A wait reads it while the watch
// writes it.
type store struct {
	mu   sync.RWMutex
	objs map[string]runtime.Object
}

func newStore() *store { return &store{objs: map[string]runtime.Object{}} }

// List returns the objects ordered by key, so that a reader sees them in
// the same order each time.
func (s *store) List() []runtime.Object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make([]string, 0, len(s.objs))
	for k := range s.objs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]runtime.Object, len(keys))
	for i, k := range keys {
		out[i] = s.objs[k]
	}
	return out
}

// GetByKey returns the object named "namespace/name".
func (s *store) GetByKey(key string) (runtime.Object, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.objs[key]
	return o, ok
}

func (s *store) put(o runtime.Object) error {
	k, err := storeKey(o)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs[k] = o
	return nil
}

func (s *store) remove(o runtime.Object) error {
	k, err := storeKey(o)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objs, k)
	return nil
}

// replace makes objs the whole content: what a fresh list says exists.
func (s *store) replace(objs []runtime.Object) error {
	next := make(map[string]runtime.Object, len(objs))
	for _, o := range objs {
		k, err := storeKey(o)
		if err != nil {
			return err
		}
		next[k] = o
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs = next
	return nil
}

func storeKey(o runtime.Object) (string, error) {
	m, err := meta.Accessor(o)
	if err != nil {
		return "", err
	}
	if m.GetNamespace() == "" {
		return m.GetName(), nil
	}
	return m.GetNamespace() + "/" + m.GetName(), nil
}
