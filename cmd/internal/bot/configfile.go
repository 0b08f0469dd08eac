package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// decodeYAML reads the config file onto cfg's defaults. It decodes by
// hand, rather than with yaml.UnmarshalStrict, so that every error names
// the full path of the key at fault (environments.production.namespace),
// which encoding/json's unknown-field and custom-type errors do not.
func decodeYAML(data []byte, cfg *Config) error {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("not YAML: %s", oneLine(err.Error()))
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return fmt.Errorf("not YAML: %v", err)
	}
	if tree == nil {
		return nil
	}
	if _, ok := tree.(map[string]any); !ok {
		return errors.New("want a mapping of keys at the top")
	}
	return decodeValue("", tree, reflect.ValueOf(cfg).Elem())
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	liveCheckType = reflect.TypeFor[LiveCheck]()
	envType       = reflect.TypeFor[Environment]()
)

// decodeValue sets v from node, the JSON form of the YAML at path.
func decodeValue(path string, node any, v reflect.Value) error {
	switch {
	case v.Type() == durationType:
		s, ok := node.(string)
		d, err := time.ParseDuration(s)
		if !ok || err != nil {
			return fmt.Errorf("%s: %s is not a duration like 4h or 30m", path, show(node))
		}
		v.SetInt(int64(d))
		return nil
	case v.Type() == liveCheckType:
		return decodeLiveCheck(path, node, v.Addr().Interface().(*LiveCheck))
	}
	switch v.Kind() {
	case reflect.Struct:
		if node == nil {
			// "production:" with nothing under it keeps the defaults.
			return nil
		}
		m, ok := node.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want a mapping, not %s", path, show(node))
		}
		for _, k := range sortedKeys(m) {
			f, ok := fieldByTag(v, k)
			if !ok {
				return fmt.Errorf("%s: unknown key", join(path, k))
			}
			if err := decodeValue(join(path, k), m[k], f); err != nil {
				return err
			}
		}
	case reflect.Map:
		m, ok := node.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want a mapping, not %s", path, show(node))
		}
		// A map in the file replaces the default one; each environment it
		// names starts from the defaults, so it need only say what differs.
		out := reflect.MakeMapWithSize(v.Type(), len(m))
		for _, k := range sortedKeys(m) {
			elem := reflect.New(v.Type().Elem()).Elem()
			if v.Type().Elem() == envType {
				elem.Set(reflect.ValueOf(EnvironmentDefaults(k)))
			}
			if err := decodeValue(join(path, k), m[k], elem); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k), elem)
		}
		v.Set(out)
	case reflect.Slice:
		list, ok := node.([]any)
		if !ok {
			return fmt.Errorf("%s: want a list, not %s", path, show(node))
		}
		out := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, item := range list {
			if err := decodeValue(fmt.Sprintf("%s[%d]", path, i), item, out.Index(i)); err != nil {
				return err
			}
		}
		v.Set(out)
	case reflect.String:
		s, ok := node.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, not %s", path, show(node))
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := node.(bool)
		if !ok {
			return fmt.Errorf("%s: want true or false, not %s", path, show(node))
		}
		v.SetBool(b)
	case reflect.Int:
		n, ok := node.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil {
			return fmt.Errorf("%s: want a whole number, not %s", path, show(node))
		}
		v.SetInt(i)
	default:
		panic(fmt.Sprintf("config: cannot decode into %s at %s", v.Type(), path))
	}
	return nil
}

// decodeLiveCheck takes "builtin" or a command as a list of strings.
func decodeLiveCheck(path string, node any, lc *LiveCheck) error {
	bad := fmt.Errorf("%s: want \"builtin\" or a command as a list of strings, not %s", path, show(node))
	switch n := node.(type) {
	case string:
		if n != "builtin" {
			return bad
		}
		*lc = LiveCheck{Builtin: true}
	case []any:
		if len(n) == 0 {
			return bad
		}
		cmd := make([]string, len(n))
		for i, a := range n {
			s, ok := a.(string)
			if !ok || s == "" {
				return bad
			}
			cmd[i] = s
		}
		*lc = LiveCheck{Command: cmd}
	default:
		return bad
	}
	return nil
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

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(path, key string) string {
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
		return fmt.Sprintf("%q", n)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprint(n)
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
