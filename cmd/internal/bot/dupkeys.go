package bot

import (
	"fmt"

	yamlv3 "go.yaml.in/yaml/v3"
)

// duplicateKeys records each key a mapping of the YAML file gives twice,
// with both lines. The decoder the configuration goes through
// (sigs.k8s.io/yaml, on go-yaml v2) keeps the last silently, so a second
// "production:" would drop the first one's starters; go-yaml v3's node
// tree keeps every key with its line. A file v3 cannot parse is left to
// the decoder, which says why.
func duplicateKeys(p *problems, data []byte) {
	var doc yamlv3.Node
	if yamlv3.Unmarshal(data, &doc) != nil {
		return
	}
	var walk func(path string, n *yamlv3.Node)
	walk = func(path string, n *yamlv3.Node) {
		switch n.Kind {
		case yamlv3.DocumentNode:
			for _, c := range n.Content {
				walk(path, c)
			}
		case yamlv3.SequenceNode:
			for i, c := range n.Content {
				walk(fmt.Sprintf("%s[%d]", path, i), c)
			}
		case yamlv3.MappingNode:
			first := map[string]int{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				key := join(path, k.Value)
				if line, ok := first[k.Value]; ok {
					p.errorf("%s: given twice, on lines %d and %d: the second would replace the first; merge them", key, line, k.Line)
				} else {
					first[k.Value] = k.Line
				}
				walk(key, v)
			}
		}
	}
	walk("", &doc)
}
