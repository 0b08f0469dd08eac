package kubetest

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// containerEnv resolves a container's environment from the pod spec as
// the kubelet does when the container starts: envFrom first, then env,
// later names winning. Values come from the cluster at this moment, so a
// pod keeps the token it started with, as a real one does. $(VAR)
// expansion is not done.
func containerEnv(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, c *corev1.Container) (map[string]string, error) {
	env := map[string]string{}
	secrets := map[string]*corev1.Secret{}
	configMaps := map[string]*corev1.ConfigMap{}
	secret := func(name string) (*corev1.Secret, error) {
		if s, ok := secrets[name]; ok {
			return s, nil
		}
		s, err := cs.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			s, err = nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get secret %s: %w", name, err)
		}
		secrets[name] = s
		return s, nil
	}
	configMap := func(name string) (*corev1.ConfigMap, error) {
		if m, ok := configMaps[name]; ok {
			return m, nil
		}
		m, err := cs.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			m, err = nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("get configmap %s: %w", name, err)
		}
		configMaps[name] = m
		return m, nil
	}
	optional := func(p *bool) bool { return p != nil && *p }

	for _, from := range c.EnvFrom {
		switch {
		case from.SecretRef != nil:
			s, err := secret(from.SecretRef.Name)
			if err != nil {
				return nil, err
			}
			if s == nil {
				if optional(from.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("secret %q not found", from.SecretRef.Name)
			}
			for k, v := range s.Data {
				env[from.Prefix+k] = string(v)
			}
		case from.ConfigMapRef != nil:
			m, err := configMap(from.ConfigMapRef.Name)
			if err != nil {
				return nil, err
			}
			if m == nil {
				if optional(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("configmap %q not found", from.ConfigMapRef.Name)
			}
			for k, v := range m.Data {
				env[from.Prefix+k] = v
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, err := secret(ref.Name)
			if err != nil {
				return nil, err
			}
			v, ok := []byte(nil), false
			if s != nil {
				v, ok = s.Data[ref.Key]
			}
			if !ok {
				if optional(ref.Optional) {
					continue
				}
				return nil, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
			}
			env[e.Name] = string(v)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			m, err := configMap(ref.Name)
			if err != nil {
				return nil, err
			}
			v, ok := "", false
			if m != nil {
				v, ok = m.Data[ref.Key]
			}
			if !ok {
				if optional(ref.Optional) {
					continue
				}
				return nil, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
			}
			env[e.Name] = v
		case e.ValueFrom.FieldRef != nil:
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				env[e.Name] = pod.Name
			case "metadata.namespace":
				env[e.Name] = pod.Namespace
			case "spec.nodeName":
				env[e.Name] = pod.Spec.NodeName
			default:
				return nil, fmt.Errorf("kubetest: fieldRef %s is not supported", e.ValueFrom.FieldRef.FieldPath)
			}
		default:
			return nil, fmt.Errorf("kubetest: env %s: this valueFrom is not supported", e.Name)
		}
	}
	return env, nil
}
