package bot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// decodeYAML reads the config file onto cfg's defaults, recording every
// problem in p; it reports whether the file could be read as YAML at all.
// It decodes by hand, rather than with yaml.UnmarshalStrict, so that every
// error names the full path of the key at fault
// (environments.production.namespace), which encoding/json's unknown-field
// and custom-type errors do not.
func decodeYAML(p *problems, data []byte, cfg *Config) bool {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		p.errorf("not YAML: %s", err)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		p.errorf("not YAML: %v", err)
		return false
	}
	if tree == nil {
		return true
	}
	if _, ok := tree.(map[string]any); !ok {
		p.errorf("want a mapping of keys at the top")
		return false
	}
	duplicateKeys(p, data)
	decodeValue(p, "", tree, reflect.ValueOf(cfg).Elem())
	return true
}

// readBounded reads at most limit bytes of path, and refuses a longer file.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is over %d KiB: this is not a configuration file", path, limit>>10)
	}
	return data, nil
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	liveCheckType = reflect.TypeFor[LiveCheck]()
	envType       = reflect.TypeFor[Environment]()
)

// decodeValue sets v from node, the JSON form of the YAML at path, and
// records in p what it cannot set.
func decodeValue(p *problems, path string, node any, v reflect.Value) {
	switch {
	case v.Type() == durationType:
		s, ok := node.(string)
		d, err := time.ParseDuration(s)
		if !ok || err != nil {
			p.errorf("%s: %s is not a duration like 4h or 30m", path, show(node))
			return
		}
		v.SetInt(int64(d))
		return
	case v.Type() == liveCheckType:
		decodeLiveCheck(p, path, node, v.Addr().Interface().(*LiveCheck))
		return
	case v.Type() == autopilotType:
		decodeAutopilot(p, path, node, v)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if node == nil {
			// "production:" with nothing under it keeps the defaults.
			return
		}
		m, ok := node.(map[string]any)
		if !ok {
			p.errorf("%s: want a mapping, not %s", path, show(node))
			return
		}
		for _, k := range sortedKeys(m) {
			f, ok := fieldByTag(v, k)
			if !ok {
				p.errorf("%s: unknown key", join(path, k))
				continue
			}
			decodeValue(p, join(path, k), m[k], f)
		}
	case reflect.Map:
		m, ok := node.(map[string]any)
		if !ok {
			p.errorf("%s: want a mapping, not %s", path, show(node))
			return
		}
		// A map in the file replaces the default one; each environment it
		// names starts from the defaults, so it need only say what differs.
		out := reflect.MakeMapWithSize(v.Type(), len(m))
		for _, k := range sortedKeys(m) {
			elem := reflect.New(v.Type().Elem()).Elem()
			if v.Type().Elem() == envType {
				elem.Set(reflect.ValueOf(EnvironmentDefaults(k)))
			}
			decodeValue(p, join(path, k), m[k], elem)
			out.SetMapIndex(reflect.ValueOf(k), elem)
		}
		v.Set(out)
	case reflect.Slice:
		list, ok := node.([]any)
		if !ok {
			p.errorf("%s: want a list, not %s", path, show(node))
			return
		}
		out := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, item := range list {
			decodeValue(p, fmt.Sprintf("%s[%d]", path, i), item, out.Index(i))
		}
		v.Set(out)
	case reflect.String:
		s, ok := node.(string)
		if !ok {
			p.errorf("%s: want a string, not %s", path, show(node))
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := node.(bool)
		if !ok {
			p.errorf("%s: want true or false, not %s", path, show(node))
			return
		}
		v.SetBool(b)
	case reflect.Int:
		n, ok := node.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil {
			p.errorf("%s: want a whole number, not %s", path, show(node))
			return
		}
		v.SetInt(i)
	default:
		panic(fmt.Sprintf("config: cannot decode into %s at %s", v.Type(), path))
	}
}

// decodeLiveCheck takes "builtin" or a command as a list of strings.
func decodeLiveCheck(p *problems, path string, node any, lc *LiveCheck) {
	bad := func() { p.errorf("%s: want \"builtin\" or a command as a list of strings, not %s", path, show(node)) }
	switch n := node.(type) {
	case string:
		if n != "builtin" {
			bad()
			return
		}
		*lc = LiveCheck{Builtin: true}
	case []any:
		if len(n) == 0 {
			bad()
			return
		}
		cmd := make([]string, len(n))
		for i, a := range n {
			s, ok := a.(string)
			if !ok || s == "" {
				bad()
				return
			}
			cmd[i] = s
		}
		*lc = LiveCheck{Command: cmd}
	default:
		bad()
	}
}

// fieldByTag finds the struct field a YAML key names.
func fieldByTag(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == key && name != "-" {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(path, key string) string {
	if len(key) > maxExcerpt {
		key = key[:maxExcerpt] + "…"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// show quotes a value from the file for an error message.
func show(node any) string {
	switch n := node.(type) {
	case nil:
		return "nothing"
	case string:
		return excerpt(n)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprint(n)
	}
}
